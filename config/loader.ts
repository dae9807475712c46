/**
 * Loading order: defaults → `<repo>/config.json` → environment (`DITS_CONFIG_<KEY>`, the key upper-cased with
 * dots as `__`, a JSON value: `DITS_CONFIG_DISCOVERY__MDNS=false`). Validated once, here.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { validateConfig, checkKey, setKey, RULES, ConfigError } from './schema.ts'
import type { Config } from './schema.ts'

export const CONFIG_FILE = 'config.json'
const ENV_PREFIX = 'DITS_CONFIG_'

export async function readConfigFile (repoDir: string): Promise<Record<string, unknown>> {
  const path = join(repoDir, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`)
  }
}

export async function loadConfig (repoDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const raw = await readConfigFile(repoDir)
  for (const key of Object.keys(RULES)) {
    const name = ENV_PREFIX + key.toUpperCase().replaceAll('.', '__')
    const text = env[name]
    if (text === undefined) continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new ConfigError(`${name} must hold a JSON value for ${key}, got ${JSON.stringify(text)}`)
    }
    setKey(raw, key, checkKey(key, value))
  }
  return validateConfig(raw, join(repoDir, CONFIG_FILE))
}
