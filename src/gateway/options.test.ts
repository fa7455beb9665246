import { describe, expect, it } from "vitest";
import { executorIdentity } from "./options.js";

describe("a gateway's name as a directive worker", () => {
  it("is host:port alone, AIRLOCK_EXECUTOR_ID when set, and a cluster worker adds its place to either", () => {
    expect(executorIdentity({}, "box", 4100, undefined)).toEqual({ executorId: "box:4100", executorSuffix: undefined });
    expect(executorIdentity({ AIRLOCK_EXECUTOR_ID: "gw-a" }, "box", 4100, undefined)).toEqual({ executorId: "gw-a", executorSuffix: undefined });
    // Two workers reading one environment (or one file's governance.execution.executorId) stay distinct.
    expect(executorIdentity({ AIRLOCK_EXECUTOR_ID: "gw-a" }, "box", 4100, "2")).toEqual({ executorId: "gw-a", executorSuffix: "#2" });
    expect(executorIdentity({}, "box", 4100, "1")).toEqual({ executorId: "box:4100", executorSuffix: "#1" });
  });
});
