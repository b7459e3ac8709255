/**
 * A minimal reader for the zip archives GitHub serves for workflow-run artifacts: it finds one
 * entry through the central directory and returns its bytes. Only what those archives use:
 * stored (0) and deflate (8) entries, local headers followed by data descriptors, UTF-8 names.
 * Refused with a ZipError: zip64, encryption, split archives, other methods, and any entry
 * whose size is over the caller's limit, checked against the directory before inflating and
 * enforced again while inflating (so a zip bomb with a lying header costs at most the limit).
 * The CRC-32 is checked, so a truncated or damaged archive is an error, never wrong text.
 */
import { crc32, inflateRawSync } from 'node:zlib';

/** The archive cannot be read, or the entry is refused. The message says which and why. */
export class ZipError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZipError';
  }
}

export interface ReadZipEntryOptions {
  /** Largest uncompressed size accepted for the entry, in bytes. */
  maxBytes: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_LENGTH = 22;
const CENTRAL_LENGTH = 46;
const LOCAL_LENGTH = 30;
const MAX_COMMENT = 0xffff;

const FLAG_ENCRYPTED = 0x0001;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

interface CentralEntry {
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * The bytes of the entry named `name` (a path inside the archive, `/`-separated; a leading
 * `./` or `/` is ignored), or null when the archive has no such file. Directories (names
 * ending in `/`) are never matched.
 */
export function readZipEntry(zip: Uint8Array, name: string, options: ReadZipEntryOptions): Buffer | null {
  const buf = Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  const wanted = normalizeEntryName(name);
  if (wanted === '' || wanted.endsWith('/')) return null;

  const eocd = findEndOfCentralDirectory(buf);
  const disk = buf.readUInt16LE(eocd + 4);
  const directoryDisk = buf.readUInt16LE(eocd + 6);
  const entriesOnDisk = buf.readUInt16LE(eocd + 8);
  const entries = buf.readUInt16LE(eocd + 10);
  const directorySize = buf.readUInt32LE(eocd + 12);
  const directoryOffset = buf.readUInt32LE(eocd + 16);
  if (entries === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    throw new ZipError('zip64 archives are not supported');
  }
  if (disk !== 0 || directoryDisk !== 0 || entriesOnDisk !== entries) {
    throw new ZipError('split (multi-disk) archives are not supported');
  }
  const directoryEnd = directoryOffset + directorySize;
  if (directoryEnd > eocd) throw new ZipError('corrupt archive: the central directory lies outside the file');

  let found: CentralEntry | null = null;
  let at = directoryOffset;
  for (let i = 0; i < entries; i++) {
    if (at + CENTRAL_LENGTH > directoryEnd || buf.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw new ZipError(`corrupt archive: central directory entry ${i} is damaged`);
    }
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const nameEnd = at + CENTRAL_LENGTH + nameLength;
    if (nameEnd > directoryEnd) throw new ZipError(`corrupt archive: central directory entry ${i} is damaged`);
    // GitHub's archives flag UTF-8 names; other tools write UTF-8 without the flag.
    if (found === null && buf.toString('utf8', at + CENTRAL_LENGTH, nameEnd) === wanted) {
      found = {
        flags: buf.readUInt16LE(at + 8),
        method: buf.readUInt16LE(at + 10),
        crc: buf.readUInt32LE(at + 16),
        compressedSize: buf.readUInt32LE(at + 20),
        size: buf.readUInt32LE(at + 24),
        localOffset: buf.readUInt32LE(at + 42),
      };
    }
    at = nameEnd + extraLength + commentLength;
  }
  if (found === null) return null;
  return extract(buf, wanted, found, directoryOffset, options.maxBytes);
}

function extract(buf: Buffer, name: string, entry: CentralEntry, dataLimit: number, maxBytes: number): Buffer {
  const { flags, method, compressedSize, size, localOffset } = entry;
  if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
    throw new ZipError(`"${name}" is a zip64 entry, which is not supported`);
  }
  if (flags & FLAG_ENCRYPTED) throw new ZipError(`"${name}" is encrypted`);
  if (size > maxBytes) {
    throw new ZipError(`"${name}" is ${size} bytes uncompressed, over the limit of ${maxBytes} bytes`);
  }

  if (localOffset + LOCAL_LENGTH > dataLimit || buf.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) {
    throw new ZipError(`corrupt archive: the local header of "${name}" is missing`);
  }
  // The local name and extra field may differ in length from the central ones.
  const dataStart = localOffset + LOCAL_LENGTH + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
  const dataEnd = dataStart + compressedSize;
  if (dataEnd > dataLimit) throw new ZipError(`corrupt archive: the data of "${name}" runs past the end`);
  const raw = buf.subarray(dataStart, dataEnd);

  let data: Buffer;
  if (method === METHOD_STORED) {
    if (compressedSize !== size) throw new ZipError(`corrupt archive: stored entry "${name}" has mismatched sizes`);
    data = Buffer.from(raw);
  } else if (method === METHOD_DEFLATE) {
    try {
      // Output past the declared size is an error, so the limit holds whatever the data says.
      data = inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const reason = code === 'ERR_BUFFER_TOO_LARGE' ? 'inflates past its declared size' : 'does not inflate';
      throw new ZipError(`corrupt archive: "${name}" ${reason}`, { cause: error });
    }
  } else {
    throw new ZipError(`"${name}" uses compression method ${method}; only stored and deflate are supported`);
  }

  if (data.length !== size) throw new ZipError(`corrupt archive: "${name}" is ${data.length} bytes, not the declared ${size}`);
  if (crc32(data) >>> 0 !== entry.crc) throw new ZipError(`corrupt archive: "${name}" fails its CRC-32 check`);
  return data;
}

/** The end-of-central-directory record sits in the last 22 bytes plus an optional comment. */
function findEndOfCentralDirectory(buf: Buffer): number {
  if (buf.length < EOCD_LENGTH) throw new ZipError(`not a zip archive (${buf.length} bytes)`);
  const lowest = Math.max(0, buf.length - EOCD_LENGTH - MAX_COMMENT);
  for (let at = buf.length - EOCD_LENGTH; at >= lowest; at--) {
    if (buf.readUInt32LE(at) === EOCD_SIGNATURE && at + EOCD_LENGTH + buf.readUInt16LE(at + 20) <= buf.length) return at;
  }
  throw new ZipError('not a zip archive (no end of central directory record)');
}

/** Zip names are relative and `/`-separated; callers may write `./coverage/lcov.info`. */
function normalizeEntryName(name: string): string {
  return name.replace(/\\/g, '/').replace(/^(\.?\/)+/, '');
}
