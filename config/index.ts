/**
 * Configuration: schema, defaults and loader.
 *
 * @example
 * ```ts
 * const config = await loadConfig('/home/me/.dits')
 * console.log(config.addresses.listen)
 * ```
 */
export * from './schema.ts'
export * from './loader.ts'
