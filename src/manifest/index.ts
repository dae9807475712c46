/**
 * Manifests (DESIGN §2): dag-cbor blocks that describe a file as an ordered list (or tree) of chunks, or a
 * directory as a sorted list of named entries.
 *
 * @example
 * ```ts
 * const b = new FileManifestBuilder(PROFILES.media)
 * const parts = b.addChunk(chunkCid(bytes), bytes.byteLength)
 * const { blocks, root } = b.finish(bytes.byteLength, blake3(bytes))
 * for await (const c of walkChunks(getBlock, decodeNode(root.cid, root.bytes) as FileNode)) console.log(c.offset)
 * ```
 */
export * from './format.ts'
export * from './builder.ts'
export * from './reader.ts'
export * from './measure.ts'
export * from './path.ts'
export * from './held.ts'
