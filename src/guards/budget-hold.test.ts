import { describe, expect, it } from "vitest";
import { costUnits, costUnitsText, Money } from "../ledger/pricing.js";
import { BudgetHold } from "./budget-hold.js";

const def = { name: "b", scope: "global" as const, target: "", period: "daily" as const, timezone: "UTC", limit: new Money("1"), warnAt: undefined };

function heldWith(allowance: string): BudgetHold {
  const hold = new BudgetHold(def, { start: 0, end: 86_400_000 }, "holder_test.1");
  hold.granted({ granted: allowance, free: "0" }, hold.epoch, 1_000);
  return hold;
}

describe("BudgetHold", () => {
  it("takes reservations while the lease is valid, and none after it could have lapsed", () => {
    const hold = heldWith("0.05");
    expect(hold.canTake(costUnits("0.05"), 999)).toBe(true);
    expect(hold.canTake(costUnits("0.05"), 1_000)).toBe(false);
    expect(hold.canTake(costUnits("0.06"), 0)).toBe(false);
  });

  it("settles a call below its reservation back into the allowance, and reports the cost as covered", () => {
    const hold = heldWith("0.05");
    const part = hold.take(costUnits("0.02"), 0);
    expect(costUnitsText(hold.allowance)).toBe("0.03");
    expect(costUnitsText(hold.settle(part.amount, part.epoch, costUnits("0.015")))).toBe("0.015");
    expect(costUnitsText(hold.allowance)).toBe("0.035");
  });

  it("covers a call above its reservation from the allowance, as far as it goes", () => {
    const hold = heldWith("0.03");
    const part = hold.take(costUnits("0.02"), 0);
    // Cost 0.04: 0.02 reserved, 0.01 left in the allowance, 0.01 uncovered.
    expect(costUnitsText(hold.settle(part.amount, part.epoch, costUnits("0.04")))).toBe("0.03");
    expect(costUnitsText(hold.allowance)).toBe("0");
  });

  it("settles a reservation whose lease was given up against that lease, kept for it until it settles, and returns nothing to the allowance", () => {
    const hold = heldWith("0.05");
    void hold.opened(async () => undefined, () => 0);
    return Promise.resolve().then(() => {
      const part = hold.take(costUnits("0.02"), 0);
      hold.leaseLost("holder_test.2");
      expect(costUnitsText(hold.allowance)).toBe("0");
      expect(hold.retiredHolders()).toEqual(["holder_test.1"]);
      expect(hold.holderOf(part.epoch)).toBe("holder_test.1");
      expect(costUnitsText(hold.settle(part.amount, part.epoch, costUnits("0.01")))).toBe("0.01");
      expect(hold.retiredHolders()).toEqual([]);
      expect(costUnitsText(hold.allowance)).toBe("0");
      hold.giveBack(costUnits("0.02"), part.epoch);
      expect(costUnitsText(hold.allowance)).toBe("0");
    });
  });

  it("keeps no given-up lease for a lease lost with nothing running, nor for a reservation a later budget refused", () => {
    const hold = heldWith("0.05");
    void hold.opened(async () => undefined, () => 0);
    return Promise.resolve().then(() => {
      const part = hold.take(costUnits("0.02"), 0);
      hold.unreserve(part.amount, part.epoch);
      expect(costUnitsText(hold.allowance)).toBe("0.05");
      hold.leaseLost("holder_test.2");
      expect(hold.retiredHolders()).toEqual([]);
    });
  });

  it("empties the allowance while a lease request is out, so nothing can be taken twice", () => {
    const hold = heldWith("0.004");
    const leftover = hold.surrender();
    expect(costUnitsText(leftover.amount)).toBe("0.004");
    expect(hold.canTake(costUnits("0.001"), 0)).toBe(false);
    hold.granted({ granted: "0.05", free: "0.9" }, leftover.epoch, 2_000);
    expect(costUnitsText(hold.allowance)).toBe("0.05");
    expect(hold.knownFree).toBeUndefined();
    hold.granted({ granted: "0", free: "0.003" }, leftover.epoch, 2_000);
    expect(hold.knownShort(costUnits("0.06"), 0)).toBe(true);
  });

  it("hands back allowance no call has touched for a while", () => {
    const hold = heldWith("0.05");
    hold.take(costUnits("0.01"), 100);
    expect(hold.surrenderIdle(150, 100)).toBeUndefined();
    expect(hold.surrenderIdle(250, 100)?.amount).toBe(costUnits("0.04"));
    expect(costUnitsText(hold.allowance)).toBe("0");
  });
});
