/**
 * The WebRTC-direct certificate, kept in the repo so that the certhash in this node's `/webrtc-direct` address
 * stays the same across restarts and the address can be kept in other nodes' `bootstrap`.
 *
 * `@libp2p/webrtc` 6 makes a new certificate (so a new certhash) at every start unless it is given one (its
 * `certificate` init option), or unless a keychain service and a persistent datastore keep it — and then it renews
 * it before it expires (14 days), changing the certhash anyway. A given certificate is used as it is and never
 * renewed: the first start lets the transport make one and saves it (0600, the private key is in it); every later
 * start gives it back. Its end of validity does not matter between libp2p nodes, which check the certhash, not the
 * dates (checked here: a certificate 4 s past its end was accepted by a dialling node).
 */
import { open } from 'node:fs/promises'
import { z } from 'zod'
import { DitsError } from '../../src/errors.ts'
import { writeDurable } from '../files.ts'
import type { TransportCertificate } from '@libp2p/webrtc'
import type { DitsLibp2p } from './host.ts'

/** the largest certificate file read: a P-256 key and certificate in PEM take ~1 KiB */
export const MAX_CERTIFICATE_FILE_BYTES = 64 * 1024

export class CertificateFileError extends DitsError {
  static override name = 'CertificateFileError'
  override name = 'CertificateFileError'
}

const CertificateFile = z.strictObject({
  privateKey: z.string().startsWith('-----BEGIN PRIVATE KEY-----').max(MAX_CERTIFICATE_FILE_BYTES),
  pem: z.string().startsWith('-----BEGIN CERTIFICATE-----').max(MAX_CERTIFICATE_FILE_BYTES),
  certhash: z.string().regex(/^u[A-Za-z0-9_-]+$/)
})

/** The saved certificate, or undefined when there is none yet. */
export async function loadCertificate (path: string): Promise<TransportCertificate | undefined> {
  let text: string
  try {
    const fh = await open(path, 'r')
    try {
      const bytes = Buffer.alloc(MAX_CERTIFICATE_FILE_BYTES + 1)
      const { bytesRead } = await fh.read(bytes, 0, bytes.byteLength, 0)
      if (bytesRead > MAX_CERTIFICATE_FILE_BYTES) throw new CertificateFileError(`${path} is over ${MAX_CERTIFICATE_FILE_BYTES} bytes: not a WebRTC-direct certificate file (remove it and a new certificate is made at the next start)`)
      text = bytes.subarray(0, bytesRead).toString('utf8')
    } finally {
      await fh.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new CertificateFileError(`${path} is not JSON (${(err as Error).message}); remove it and a new WebRTC-direct certificate (and certhash) is made at the next start`)
  }
  const result = CertificateFile.safeParse(parsed)
  if (!result.success) throw new CertificateFileError(`${path} is not a WebRTC-direct certificate file (${result.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}); remove it and a new certificate (and certhash) is made at the next start`)
  return result.data
}

/** Save the certificate the WebRTC-direct transport of a started host made, if it has one. Returns whether it did. */
export async function saveCertificate (libp2p: DitsLibp2p, path: string): Promise<boolean> {
  const cert = transportCertificate(libp2p)
  if (cert === undefined) return false
  await writeDurable(path, JSON.stringify({ privateKey: cert.privateKey, pem: cert.pem, certhash: cert.certhash }), 0o600)
  return true
}

/**
 * The certificate the WebRTC-direct transport holds. It offers no accessor: its `certificate` field (set by its
 * start) is read, and checked against the shape the package documents, so that a change in the package shows as
 * "none" (a new certhash each start, as before), never as a bad file.
 */
function transportCertificate (libp2p: DitsLibp2p): TransportCertificate | undefined {
  const components = (libp2p as unknown as { components?: { transportManager?: { getTransports(): unknown[] } } }).components
  for (const t of components?.transportManager?.getTransports() ?? []) {
    if ((t as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] !== '@libp2p/webrtc-direct') continue
    const parsed = CertificateFile.safeParse((t as { certificate?: unknown }).certificate)
    if (parsed.success) return parsed.data
  }
  return undefined
}
