import { describe, expect, it } from 'vitest';
import { readZipEntry, ZipError } from '../../../src/forges/github/zip.js';
import { buildZip } from './zip-writer.js';

const LCOV = 'TN:\nSF:src/app.ts\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n';
const limit = { maxBytes: 1024 * 1024 };

/**
 * Written by Python's zipfile to an unseekable stream (so with data descriptors, like
 * GitHub's): `coverage/` (directory), `coverage/lcov.info` (deflate), `README.txt` (stored),
 * `résumé.json` (deflate, UTF-8 name).
 */
const PYTHON_ZIP = Buffer.from(
  'UEsDBBQACAAIAGYwdV0AAAAAAAAAAAAAAAAJAAAAY292ZXJhZ2UvAwBQSwcIAAAAAAIAAAAAAAAAUEsDBBQACAAIAGYwdV0AAAAAAAAAAAAAAAASAAAAY292ZXJhZ2UvbGNvdi5pbmZvC/Gz4gp2syouStZPLCjQKynmcnG0MtQxBFFGOgZcPm5WRlw+HlaGXKl5KfH5afFFqcn5RSlcAFBLBwizmUOpNwAAADgAAABQSwMEFAAIAAAAAAAhAAAAAAAAAAAAAAAAAAoAAABSRUFETUUudHh0c3RvcmVkIGVudHJ5UEsHCMapHpUMAAAADAAAAFBLAwQUAAgICABmMHVdAAAAAAAAAAAAAAAADQAAAHLDqXN1bcOpLmpzb26rVsrPVrIqKSpNrQUAUEsHCJBf1KcNAAAACwAAAFBLAQIUAxQACAAIAGYwdV0AAAAAAgAAAAAAAAAJAAAAAAAAAAAAEAD9QQAAAABjb3ZlcmFnZS9QSwECFAMUAAgACABmMHVds5lDqTcAAAA4AAAAEgAAAAAAAAAAAAAAgAE5AAAAY292ZXJhZ2UvbGNvdi5pbmZvUEsBAhQDFAAIAAAAAAAhAMapHpUMAAAADAAAAAoAAAAAAAAAAAAAAIABsAAAAFJFQURNRS50eHRQSwECFAMUAAgICABmMHVdkF/Upw0AAAALAAAADQAAAAAAAAAAAAAAgAH0AAAAcsOpc3Vtw6kuanNvblBLBQYAAAAABAAEAOoAAAA8AQAAAAA=',
  'base64',
);

describe('readZipEntry', () => {
  it('reads deflate and stored entries from an archive another tool wrote', () => {
    expect(readZipEntry(PYTHON_ZIP, 'coverage/lcov.info', limit)?.toString('utf8')).toBe(LCOV);
    expect(readZipEntry(PYTHON_ZIP, 'README.txt', limit)?.toString('utf8')).toBe('stored entry');
    expect(readZipEntry(PYTHON_ZIP, 'résumé.json', limit)?.toString('utf8')).toBe('{"ok":true}');
  });

  it('accepts ./ and / in front of the path, and never matches a directory', () => {
    expect(readZipEntry(PYTHON_ZIP, './coverage/lcov.info', limit)?.toString('utf8')).toBe(LCOV);
    expect(readZipEntry(PYTHON_ZIP, '/coverage/lcov.info', limit)?.toString('utf8')).toBe(LCOV);
    expect(readZipEntry(PYTHON_ZIP, 'coverage/', limit)).toBeNull();
  });

  it('is null for a file the archive does not have', () => {
    expect(readZipEntry(PYTHON_ZIP, 'coverage/cobertura.xml', limit)).toBeNull();
    expect(readZipEntry(PYTHON_ZIP, 'lcov.info', limit)).toBeNull();
  });

  it('reads archives with and without data descriptors, and with a trailing comment', () => {
    const zip = buildZip(
      [
        { name: 'eslint.json', data: '[]', dataDescriptor: false },
        { name: 'lcov.info', data: LCOV },
        { name: 'empty.txt', data: '', method: 'store' },
      ],
      'made by a test',
    );
    expect(readZipEntry(zip, 'eslint.json', limit)?.toString()).toBe('[]');
    expect(readZipEntry(zip, 'lcov.info', limit)?.toString()).toBe(LCOV);
    expect(readZipEntry(zip, 'empty.txt', limit)?.toString()).toBe('');
  });

  it('reads from a view into a larger buffer', () => {
    const zip = buildZip([{ name: 'a.txt', data: 'hello' }]);
    const padded = Buffer.concat([Buffer.from('garbage-before'), zip]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 14, zip.length);
    expect(readZipEntry(view, 'a.txt', limit)?.toString()).toBe('hello');
  });

  it('refuses an entry over the size limit before inflating it', () => {
    const zip = buildZip([{ name: 'big.json', data: Buffer.alloc(4096, 0x20) }]);
    expect(() => readZipEntry(zip, 'big.json', { maxBytes: 1024 })).toThrow(
      new ZipError('"big.json" is 4096 bytes uncompressed, over the limit of 1024 bytes'),
    );
    expect(readZipEntry(zip, 'big.json', { maxBytes: 4096 })?.length).toBe(4096);
  });

  it('stops a zip bomb whose header under-declares its size', () => {
    // 16 MiB of zeros deflate to about 16 KiB; the directory claims 100 bytes.
    const zip = buildZip([{ name: 'lcov.info', data: Buffer.alloc(16 * 1024 * 1024), declaredSize: 100 }]);
    expect(zip.length).toBeLessThan(100_000);
    expect(() => readZipEntry(zip, 'lcov.info', limit)).toThrow(/"lcov.info" inflates past its declared size/);
  });

  it('reports a corrupt or truncated archive clearly', () => {
    expect(() => readZipEntry(Buffer.from('<html>502 Bad Gateway</html>'), 'lcov.info', limit)).toThrow(
      /not a zip archive \(no end of central directory record\)/,
    );
    expect(() => readZipEntry(Buffer.alloc(5), 'lcov.info', limit)).toThrow(/not a zip archive/);

    const zip = buildZip([{ name: 'lcov.info', data: LCOV }]);
    // Cut out the middle: the directory now points past where entries are.
    const truncated = Buffer.concat([zip.subarray(0, 10), zip.subarray(zip.length - 22 - 9 - 46)]);
    expect(() => readZipEntry(truncated, 'lcov.info', limit)).toThrow(ZipError);

    // Flip bytes inside the deflate stream.
    const damaged = Buffer.from(zip);
    damaged.fill(0xff, 30 + 'lcov.info'.length, 30 + 'lcov.info'.length + 8);
    expect(() => readZipEntry(damaged, 'lcov.info', limit)).toThrow(/corrupt archive: "lcov.info"/);
  });

  it('checks the CRC-32', () => {
    const zip = buildZip([{ name: 'lcov.info', data: LCOV, declaredCrc: 0x12345678 }]);
    expect(() => readZipEntry(zip, 'lcov.info', limit)).toThrow(/fails its CRC-32 check/);
  });

  it('refuses zip64 archives and unknown compression methods', () => {
    const zip = buildZip([{ name: 'a.txt', data: 'x' }]);
    const zip64 = Buffer.from(zip);
    zip64.writeUInt32LE(0xffffffff, zip64.length - 22 + 16);
    expect(() => readZipEntry(zip64, 'a.txt', limit)).toThrow(/zip64 archives are not supported/);

    const bzip2 = Buffer.from(zip);
    const central = bzip2.length - 22 - 46 - 'a.txt'.length;
    bzip2.writeUInt16LE(12, central + 10);
    expect(() => readZipEntry(bzip2, 'a.txt', limit)).toThrow(/compression method 12/);
  });

  it('refuses encrypted entries', () => {
    const zip = buildZip([{ name: 'a.txt', data: 'x' }]);
    const central = zip.length - 22 - 46 - 'a.txt'.length;
    zip.writeUInt16LE(zip.readUInt16LE(central + 8) | 1, central + 8);
    expect(() => readZipEntry(zip, 'a.txt', limit)).toThrow(/"a.txt" is encrypted/);
  });
});
