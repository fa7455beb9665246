// @ts-check
/** Money as the dashboard writes it. No DOM here: tests run it in Node. */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * A cost as the server sent it, an exact decimal: trailing zeros dropped, at least two places. A fixed
 * six places showed a call of $0.00000002 as $0.000000.
 * @param {string} usd
 */
export const money = (usd) => {
  if (!DECIMAL.test(usd)) return usd;
  const [whole, fraction = ""] = usd.split(".");
  return `${whole}.${fraction.replace(/0+$/, "").padEnd(2, "0")}`;
};

/**
 * An estimate or an average the server worked out to twelve places ("12.500000000000",
 * "0.003062526787"), rounded for reading: to six places, or to three significant digits when six
 * places would keep fewer, so that a small amount never reads as zero. Rounded on the decimal text
 * itself, half away from zero, never through a float.
 * @param {string} usd
 */
export const roundedMoney = (usd) => {
  const parts = DECIMAL.exec(usd);
  if (!parts) return usd;
  const [, sign, whole = "0", fraction = ""] = parts;
  const firstDigit = /^0+$/.test(whole) ? fraction.search(/[1-9]/) : -1;
  const places = Math.max(6, firstDigit + 3);
  const kept = BigInt(whole + fraction.padEnd(places + 1, "0").slice(0, places + 1));
  const digits = ((kept + 5n) / 10n).toString().padStart(places + 1, "0");
  const rounded = money(`${digits.slice(0, -places)}.${digits.slice(-places)}`);
  return sign && /[1-9]/.test(rounded) ? `-${rounded}` : rounded;
};

/**
 * An amount in dollars with its sign before the dollar sign: "-$3.33", not "$-3.33".
 * @param {string} amount a decimal already written for reading (by `money` or `roundedMoney`)
 */
export const dollars = (amount) => (amount.startsWith("-") ? `-$${amount.slice(1)}` : `$${amount}`);

/**
 * A share between 0 and 1 the server sent as a decimal ("0.800"), as a percentage: "80%", "12.3%".
 * @param {string | number} share
 */
export const percentage = (share) => `${Number((Number(share) * 100).toFixed(1))}%`;

/** The ledger's precision: costs are numeric(24,12). */
const PLACES = 12;

/**
 * A cost as a whole number of 10^-12 dollars, so that the chart's sums are exact: a float sum wrote a
 * bar of $0.00000002 as $0.000000.
 * @param {string} usd
 */
export const units = (usd) => {
  const parts = DECIMAL.exec(usd);
  if (!parts) return 0n;
  const [, sign, whole = "0", fraction = ""] = parts;
  const count = BigInt(whole + fraction.padEnd(PLACES, "0").slice(0, PLACES));
  return sign ? -count : count;
};

/**
 * A sum of `units` written as `money` writes a cost.
 * @param {bigint} count
 */
export const unitsMoney = (count) => {
  const digits = (count < 0n ? -count : count).toString().padStart(PLACES + 1, "0");
  return money(`${count < 0n ? "-" : ""}${digits.slice(0, -PLACES)}.${digits.slice(-PLACES)}`);
};

/**
 * A price as the admin API sends it, each figure as written, and each long-context tier after it:
 * "input 1.25, output 10, per 1M; above 200000 prompt tokens: input 2.5, output 15".
 * @param {Record<string, unknown>} price
 */
export const priceText = (price) => {
  /** @param {Record<string, unknown>} figures */
  const listed = (figures) => Object.entries(figures).filter(([, v]) => typeof v === "string" || typeof v === "number").map(([k, v]) => `${k} ${v}`).join(", ");
  const tiers = Array.isArray(price.above) ? price.above : [];
  return [listed(price), ...tiers.map((/** @type {Record<string, unknown>} */ tier) => {
    const { inputTokens, ...figures } = tier;
    return `above ${String(inputTokens)} prompt tokens: ${listed(figures)}`;
  })].join("; ");
};
