// @ts-check
/** Money as the dashboard writes it. No DOM here: tests run it in Node. */

/**
 * A cost as the server sent it, an exact decimal: trailing zeros dropped, at least two places. A fixed
 * six places showed a call of $0.00000002 as $0.000000.
 * @param {string} usd
 */
export const money = (usd) => {
  if (!/^-?\d+(\.\d+)?$/.test(usd)) return usd;
  const [whole, fraction = ""] = usd.split(".");
  return `${whole}.${fraction.replace(/0+$/, "").padEnd(2, "0")}`;
};
/**
 * A sum the chart made in floating point, for its bars' titles: to six places, as it is only a reading of the bars.
 * @param {number} usd
 */
export const chartMoney = (usd) => usd.toFixed(6);
