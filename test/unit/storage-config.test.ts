import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';
import { createFileStore } from '../../src/shared/storage/create-file-store.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import { partSizeFor, S3Store } from '../../src/shared/storage/s3-store.js';

describe('storage configuration', () => {
  it('keeps files in DATA_DIR when STORAGE_URL is unset, and in the named folder with file://', async () => {
    const unset = await createFileStore(loadConfig({ DATA_DIR: '/tmp/catalog-data' }));
    expect(unset).toBeInstanceOf(UploadStore);
    expect((unset as UploadStore).root).toBe('/tmp/catalog-data');
    const named = await createFileStore(loadConfig({ STORAGE_URL: 'file:///srv/catalog' }));
    expect((named as UploadStore).root).toBe('/srv/catalog');
  });

  it('uses object storage with s3://bucket/prefix and the S3 settings', async () => {
    const config = loadConfig({ STORAGE_URL: 's3://catalog-files/prod', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'auto' });
    expect(config).toMatchObject({ S3_FORCE_PATH_STYLE: true, S3_REGION: 'auto', RESULT_REDIRECT: 'none' });
    expect(await createFileStore(config)).toBeInstanceOf(S3Store);
  });

  describe('the bucket region', () => {
    // The AWS SDK reads the region chain itself (AWS_REGION, then the profile's config file).
    const withoutAwsRegion = () => {
      vi.stubEnv('AWS_REGION', undefined);
      vi.stubEnv('AWS_DEFAULT_REGION', undefined);
      vi.stubEnv('AWS_PROFILE', undefined);
      vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/catalog-test-aws-config');
    };
    afterEach(() => vi.unstubAllEnvs());

    it('refuses at start an s3:// STORAGE_URL with no region anywhere, naming S3_REGION', async () => {
      withoutAwsRegion();
      const start = createFileStore(loadConfig({ STORAGE_URL: 's3://catalog-files/prod' }));
      await expect(start).rejects.toBeInstanceOf(ConfigError);
      await expect(start).rejects.toThrow(/^Invalid configuration: S3_REGION: .*s3:\/\/catalog-files.*AWS_REGION/);
    });

    it('refuses a region the SDK cannot use, naming S3_REGION', async () => {
      withoutAwsRegion();
      const start = createFileStore(loadConfig({ STORAGE_URL: 's3://catalog-files/prod', S3_REGION: 'eu central 1' }));
      await expect(start).rejects.toThrow(/^Invalid configuration: S3_REGION: /);
    });

    it('takes the region of the AWS chain when S3_REGION is unset', async () => {
      withoutAwsRegion();
      vi.stubEnv('AWS_REGION', 'eu-central-1');
      expect(await createFileStore(loadConfig({ STORAGE_URL: 's3://catalog-files/prod' }))).toBeInstanceOf(S3Store);
    });
  });

  it('refuses a STORAGE_URL it cannot use, naming the variable', () => {
    expect(() => loadConfig({ STORAGE_URL: 'ftp://files' })).toThrow(/STORAGE_URL: expected file:\/\/<dir> or s3:\/\/<bucket>\/<prefix>/);
    expect(() => loadConfig({ RESULT_REDIRECT: 'always' })).toThrow(/RESULT_REDIRECT/);
  });

  it('sizes upload parts so that files up to the upload limit fit in S3’s 10,000 parts', () => {
    expect(partSizeFor(1024 ** 3)).toBe(5 * 1024 * 1024);
    const hundredGiB = 100 * 1024 ** 3;
    expect(Math.ceil(hundredGiB / partSizeFor(hundredGiB))).toBeLessThanOrEqual(10_000);
  });
});
