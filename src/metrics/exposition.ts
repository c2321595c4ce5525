export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * Picks the format from an Accept header the way client_golang's expfmt.Negotiate does: the
 * highest-q entry we can serve wins; OpenMetrics only for the versions we write (1.0.0, and 0.0.1,
 * which Prometheus still advertises and which parses the same text).
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  const entries = accept.split(',').map((part, index) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const values = Object.fromEntries(params.map((p) => p.split('=').map((s) => s.trim()) as [string, string]));
    const q = values.q === undefined ? 1 : Number(values.q);
    return { type, version: values.version, q: Number.isFinite(q) ? q : 0, index };
  });
  entries.sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of entries) {
    if (entry.q <= 0) continue;
    if (entry.type === 'application/openmetrics-text' && (entry.version === undefined || entry.version === '1.0.0' || entry.version === '0.0.1')) {
      return 'openmetrics';
    }
    if (entry.type === 'text/plain' || entry.type === '*/*' || entry.type === 'text/*') return 'prometheus';
  }
  return 'prometheus';
}

/** Whether an Accept-Encoding header allows gzip (a `q=0` refuses it). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Rewrites the Prometheus text format into OpenMetrics 1.0 text. We convert the text instead of asking
 * prom-client for OpenMetrics because prom-client's OpenMetrics mode renames the shared Counter objects
 * (it strips `_total` from `metric.name` in place), so every later Prometheus-format render of the same
 * metrics would lose `_total` for good — even through a separate or merged Registry.
 *
 * The differences handled: a counter family is named without `_total` (its samples keep it), HELP also
 * escapes `"`, `untyped` (and a counter without `_total`, which OpenMetrics cannot name) is `unknown`, no blank lines, prom-client's `Nan` is `NaN`, `# EOF` ends the text.
 */
export function toOpenMetrics(prometheusText: string): string {
  const counters = new Set<string>();
  for (const match of prometheusText.matchAll(/^# TYPE (\S+_total) counter$/gm)) counters.add(match[1]!);
  const out: string[] = [];
  for (const line of prometheusText.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, keyword, family = '', value = ''] = meta;
      const name = counters.has(family) ? family.slice(0, -'_total'.length) : family;
      if (keyword === 'HELP') out.push(`# HELP ${name} ${value.replaceAll('"', '\\"')}`);
      else out.push(`# TYPE ${name} ${openMetricsType(family, value)}`);
      continue;
    }
    if (line.startsWith('#')) continue;
    out.push(line.endsWith(' Nan') ? `${line.slice(0, -4)} NaN` : line);
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

function openMetricsType(family: string, type: string): string {
  if (type === 'untyped' || (type === 'counter' && !family.endsWith('_total'))) return 'unknown';
  return type;
}
