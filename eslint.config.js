// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through src/shared/config.ts only.',
        },
      ],
    },
  },
  {
    // Workers and the shared code never lean on the API: what both sides serve over HTTP (health,
    // metrics, the error envelope) lives in src/shared/http.
    files: ['src/workers/**', 'src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\.?/(\\.\\./)*api(/|$)', message: 'src/workers and src/shared must not import from src/api; move what both need to src/shared.' }] },
      ],
    },
  },
  {
    // The CLI is built and shipped on its own (dist/cli): it may share the service's types, never its code.
    files: ['src/cli/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(\\.\\./)*(api|shared|workers)(/|$)',
              allowTypeImports: true,
              message: 'The CLI stands alone: import only types from the service.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/shared/config.ts', 'src/cli/cli-config.ts', 'test/**', 'bench/**', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
