/**
 * libp2p's own metrics (connections, streams, bytes per protocol, the DHT's queries and routing table, the
 * process) through `@libp2p/prometheus-metrics`, counted into one daemon's prom-client registry.
 *
 * `@libp2p/prometheus-metrics` 5 keeps the metrics it made in one map for the whole process and gives back the
 * map's metric when a name is registered again: a second libp2p node in the same process (two daemons in one
 * test) would count into the first node's metric, which lives in the first node's registry, and its own
 * registry would lack it. Building an instance of the module clears that map (its `preserveExistingMetrics`
 * default), so every registration here first builds a throwaway instance (counting into a throwaway registry)
 * and then registers through this node's own instance, which then makes a new metric in this node's registry.
 * A name this node registers twice gets its first metric back, as the module would do for one node.
 */
import { Registry } from 'prom-client'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { ComponentLogger, Metrics } from '@libp2p/interface'

const REGISTER_METHODS = new Set([
  'registerMetric', 'registerMetricGroup', 'registerCounter', 'registerCounterGroup',
  'registerHistogram', 'registerHistogramGroup', 'registerSummary', 'registerSummaryGroup'
])

export interface Libp2pMetricsInit {
  registry: Registry
  /** the directory whose file system `nodejs_fs_usage_bytes` reports (the repo) */
  statfsLocation: string
}

/** A libp2p `metrics` factory whose metrics all go into `init.registry`, whatever other nodes the process runs. */
export function libp2pMetrics (init: Libp2pMetricsInit): (components: { logger: ComponentLogger }) => Metrics {
  return (components) => {
    // the constructor clears the process-wide map first, so its own metrics are made in this registry
    const inner = prometheusMetrics({ registry: init.registry, statfsLocation: init.statfsLocation })(components)
    const own = new Map<string, unknown>()
    const clearSharedMap = (): void => {
      prometheusMetrics({ registry: new Registry(), collectDefaultMetrics: false })(components)
    }
    return new Proxy(inner, {
      get (target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (typeof prop !== 'string' || !REGISTER_METHODS.has(prop) || typeof value !== 'function') return value
        return (name: string, options?: unknown): unknown => {
          if (own.has(name)) return own.get(name)
          clearSharedMap()
          const metric = value.call(target, name, options)
          own.set(name, metric)
          return metric
        }
      }
    })
  }
}
