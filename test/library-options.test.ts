import { describe, expect, it } from "vitest";
import { ConfigError, createAirlock } from "../src/index.js";

const config = { providers: { m: { type: "mock" as const } }, models: [{ id: "m/a", price: { input: "1", output: "1", per: "1M" as const } }] };

/**
 * `createAirlock`'s options, checked where they were written, as an unknown option is: not every
 * caller is typed (JavaScript, values read from the environment). A `closeGraceMs: "10s"` made
 * `close()` cut every running call at once, and a `dataDir` that is not a string failed every call
 * with Node's TypeError about `paths[0]`.
 */
describe("createAirlock options of the wrong type", () => {
  const refusal = (options: Record<string, unknown>) => {
    try {
      createAirlock({ config, inMemory: true, ...options } as never);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it.each([
    [{ closeGraceMs: "10s" }, 'closeGraceMs must be a number of milliseconds (0 or more), not the string "10s"'],
    [{ closeGraceMs: -1 }, "closeGraceMs must be a number of milliseconds (0 or more), not -1"],
    [{ closeGraceMs: Number.NaN }, "closeGraceMs must be a number of milliseconds (0 or more), not NaN"],
    [{ dataDir: 5 }, "dataDir must be a directory path (a string), not 5"],
    [{ dataDir: "" }, 'dataDir must be a directory path (a string), not the string ""'],
    [{ inMemory: "false" }, 'inMemory must be true or false, not the string "false"'],
    [{ executorId: 7 }, "executorId must be a non-empty string, not 7"],
    [{ onBudgetEvent: "log" }, 'onBudgetEvent must be a function, not the string "log"'],
    [{ modules: { name: "x" } }, "modules must be an array of execution modules ({ name, execute }), not an object"],
    [{ logger: "debug" }, 'logger must be a pino logger (or an object with info, warn, error and debug methods), not the string "debug"'],
    [{ config: 42 }, "config must be a configuration object or the path of a YAML or JSON file, not 42"],
  ])("refuses %o with a ConfigError naming the option", (options, message) => {
    const err = refusal(options);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`createAirlock(): ${message}`);
  });

  it("never shows the value of a databaseUrl of the wrong type, which may hold a password", () => {
    const err = refusal({ inMemory: false, databaseUrl: { href: "postgres://u:s3cret@db/x" } });
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe("createAirlock(): databaseUrl must be a PostgreSQL URL (a string), not an object");
  });

  it("takes options of the right type, and undefined for any of them", async () => {
    const airlock = createAirlock({ config, inMemory: true, closeGraceMs: 0, dataDir: undefined, logger: undefined, modules: [], onBudgetEvent: () => undefined, executorId: "worker-1" });
    await airlock.close();
  });
});
