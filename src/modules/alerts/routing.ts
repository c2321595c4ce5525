import type { ConditionSeverity } from '../../agent/kit/conditions.js';
import type { RouteConfig } from './config.js';

/**
 * The channels a condition goes to: every route whose `match` it meets adds its channels (a route without
 * `match` takes everything); with no routes configured, every channel gets everything.
 */
export function routeChannels(routes: readonly RouteConfig[] | undefined, channels: readonly string[], condition: { severity: ConditionSeverity; module: string }): Set<string> {
  if (routes === undefined || routes.length === 0) return new Set(channels);
  const out = new Set<string>();
  for (const route of routes) {
    const match = route.match;
    if (match?.severity !== undefined && match.severity !== condition.severity) continue;
    if (match?.module !== undefined && match.module !== condition.module) continue;
    for (const name of route.channels) out.add(name);
  }
  return out;
}
