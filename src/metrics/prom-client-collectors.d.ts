// prom-client's default collectors one by one (lib/metrics/*.js, CommonJS, untyped), so the agent can leave one out.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collect: (registry: Registry, config: { eventLoopMonitoringPrecision?: number }) => void;
  export default collect;
}
