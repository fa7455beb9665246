import { EventEmitter } from "node:events";

/** One channel for every change other instances must hear of; the payload says what changed (`routes`, `keys`). */
export const CHANGES_CHANNEL = "airlock_changes";

/** Stops listening. */
export type Unlisten = () => Promise<void>;

export interface NoticeHandlers {
  /** A notice on the channel, from any instance, this one included. */
  notice(payload: string): void;
  /** The listening connection came back after a break: notices may have been missed, so reload. */
  reconnected(): void;
}

/** The embedded store has one process, so its notices never leave it. */
export class LocalNotices {
  private readonly emitter = new EventEmitter();

  async listen(channel: string, handlers: NoticeHandlers): Promise<Unlisten> {
    const onNotice = (payload: string) => handlers.notice(payload);
    this.emitter.on(channel, onNotice);
    return async () => void this.emitter.off(channel, onNotice);
  }

  async notify(channel: string, payload: string): Promise<void> {
    // Delivered asynchronously, as a server's notice would be.
    setImmediate(() => this.emitter.emit(channel, payload));
  }
}
