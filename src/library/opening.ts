/**
 * What a library instance opens on first need (its store and control plane), shared by every call
 * while it opens. An open that failed is not kept: the next call tries again. An application started
 * while its PostgreSQL was restarting, or while another instance still held its embedded store, would
 * otherwise fail every call until the process restarted, when the store came back a second later.
 * Only a failure no second try can mend (`permanent`: an invalid configuration) is kept for every call.
 */
export class Opening<T> {
  private current: Promise<T> | undefined;

  constructor(
    private readonly open: () => Promise<T>,
    private readonly permanent: (err: unknown) => boolean,
  ) {}

  /** The open under way or done, or a new one when the last one failed. */
  get(): Promise<T> {
    if (this.current) return this.current;
    const attempt = this.open();
    this.current = attempt;
    attempt.catch((err: unknown) => {
      if (this.current === attempt && !this.permanent(err)) this.current = undefined;
    });
    return attempt;
  }

  /** What the last open gave, once it is over, for close(); undefined when none succeeded. */
  async opened(): Promise<T | undefined> {
    return this.current?.catch(() => undefined);
  }
}
