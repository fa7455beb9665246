import OpenAI from "openai";
import { ControlPlane } from "../../src/control-plane.js";
import { resolveConfig } from "../../src/config/load.js";
import type { AirlockConfigInput } from "../../src/config/schema.js";
import { createGateway, type Gateway } from "../../src/gateway/server.js";
import { freshStore, type StoreKind, type TestStore } from "./stores.js";

export interface TestGateway {
  url: string;
  adminKey: string;
  plane: ControlPlane;
  store: TestStore;
  /** The official OpenAI SDK pointed at this gateway, with no retries so every call is one call. */
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

/** A real gateway on a loopback port, over a fresh store of the given kind. */
export async function startTestGateway(kind: StoreKind, config: AirlockConfigInput): Promise<TestGateway> {
  const store = await freshStore(kind);
  const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
  const plane = await ControlPlane.create({ config: resolveConfig(config, "test"), database: store.database, adminKey });
  const gateway: Gateway = createGateway({ plane, logger: plane.logger });
  const { url } = await gateway.listen(0, "127.0.0.1");
  return {
    url,
    adminKey,
    plane,
    store,
    client: (key = adminKey) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 }),
    close: async () => {
      await gateway.close(1_000);
      await plane.close();
      await store.cleanup();
    },
  };
}
