import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Registry } from 'prom-client';
import { toOpenMetrics, type ExpositionFormat } from './exposition.js';

const gzip = promisify(gzipCallback);

/** One rendered exposition; the gzip and OpenMetrics variants are made on first use and kept with it. */
class Rendering {
  private readonly variants = new Map<string, Promise<Buffer>>();

  constructor(
    readonly renderedAt: number,
    private readonly prometheusText: string,
  ) {}

  body(format: ExpositionFormat, gzipped: boolean): Promise<Buffer> {
    const key = `${format}:${gzipped}`;
    let variant = this.variants.get(key);
    if (!variant) {
      const text = format === 'openmetrics' ? toOpenMetrics(this.prometheusText) : this.prometheusText;
      // gzip runs on the libuv threadpool, so a large body does not hold the event loop.
      variant = gzipped ? gzip(text, { level: 6 }) : Promise.resolve(Buffer.from(text));
      this.variants.set(key, variant);
    }
    return variant;
  }
}

/**
 * Renders the registry at most once per `maxAgeMs` and shares one in-flight render among concurrent
 * scrapes. Every value the agent exports is already a cached reading (host metrics refresh on their own
 * interval, modules update metrics when their state changes), so a body up to a second old tells a scraper
 * nothing less; what it saves is running every collect() and re-serialising a few hundred series per
 * request when several Prometheus servers (an HA pair, a federation) or a burst of requests arrive together.
 */
export class ScrapeCache {
  private latest: Rendering | undefined;
  private pending: Promise<Rendering> | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly maxAgeMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async body(format: ExpositionFormat, gzipped: boolean): Promise<Buffer> {
    return (await this.current()).body(format, gzipped);
  }

  private current(): Promise<Rendering> {
    if (this.latest && this.now() - this.latest.renderedAt < this.maxAgeMs) return Promise.resolve(this.latest);
    if (!this.pending) {
      const startedAt = this.now();
      this.pending = this.registry
        .metrics()
        .then((text) => (this.latest = new Rendering(startedAt, text)))
        .finally(() => (this.pending = undefined));
    }
    return this.pending;
  }
}
