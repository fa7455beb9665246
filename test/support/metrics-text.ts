/**
 * One sample's value from Prometheus exposition text, or undefined when the series is absent.
 * `labels` is the label set as written between the braces (`a="x",b="y"`); without it, the unlabelled series.
 */
export function metricSample(text: string, name: string, labels?: string): number | undefined {
  const prefix = labels === undefined ? `${name} ` : `${name}{${labels}} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}
