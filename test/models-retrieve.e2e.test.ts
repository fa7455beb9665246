import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./support/gateway.js";

/** `GET /v1/models/{model}`: what the openai SDK's models.retrieve() asks, for a catalog id (which holds a "/") or an operation. */
describe("GET /v1/models/{model}", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway("pglite", {
      providers: { demo: { type: "mock" } },
      models: [
        { id: "demo/airlock-mini", price: { input: "1", output: "2", per: "1M" } },
        { id: "demo/retired", status: "disabled", price: { input: "1", output: "2", per: "1M" } },
      ],
      operations: { chat_message: { model: "demo/airlock-mini" } },
    });
  });
  afterAll(async () => gw?.close());

  it("answers a catalog model as /v1/models lists it, whether its slash comes encoded (as the SDK sends it) or not", async () => {
    const listed = (await gw.client().models.list()).data.find((m) => m.id === "demo/airlock-mini");
    const model = await gw.client().models.retrieve("demo/airlock-mini");
    expect(model).toEqual(listed);
    expect(model).toMatchObject({ id: "demo/airlock-mini", object: "model", owned_by: "demo" });
    const raw = await fetch(`${gw.url}/v1/models/demo/airlock-mini`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual(listed);
  });

  it("answers an operation, callable by name", async () => {
    expect(await gw.client().models.retrieve("chat_message")).toMatchObject({ id: "chat_message", object: "model", owned_by: "airlock-operation" });
  });

  it("a model that is not listed (unknown, or disabled) is a 404 not_found in OpenAI's error shape; without a key, a 401", async () => {
    for (const id of ["demo/unknown", "demo/retired"]) {
      const err = await gw.client().models.retrieve(id).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("not_found");
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe("model");
    }
    expect((await fetch(`${gw.url}/v1/models/demo/airlock-mini`)).status).toBe(401);
  });
});

/** As LiteLLM lists only the models a key may use: a model the org's list leaves out is not offered. */
describe("GET /v1/models under org.enabledModels", () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway("pglite", {
      providers: { demo: { type: "mock" } },
      models: [
        { id: "demo/airlock-mini", price: { input: "1", output: "2", per: "1M" } },
        { id: "demo/airlock-max", price: { input: "5", output: "10", per: "1M" } },
      ],
      org: { enabledModels: ["demo/airlock-mini"], onDisallowedModel: "refuse" },
    });
  });
  afterAll(async () => gw?.close());

  it("lists only the models calls may use, and answers one outside the list 404 as models.retrieve asks it", async () => {
    expect((await gw.client().models.list()).data.map((m) => m.id)).toEqual(["demo/airlock-mini"]);
    const err = await gw.client().models.retrieve("demo/airlock-max").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe("model");
    // What the list leaves out is what a call is refused.
    const call = await gw.client().chat.completions.create({ model: "demo/airlock-max", messages: [{ role: "user", content: "hi" }] }).then(() => undefined, (e: unknown) => e);
    expect(call).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});
