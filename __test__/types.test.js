'use strict';

// The TypeScript declarations (index.d.ts), checked by compiling the
// fixtures in __test__/types with the TypeScript compiler API, in process,
// under strict mode and several module settings (node16, nodenext, bundler,
// node10):
//
// - types/pass: code using the API the way ws code does (the seeds' servers,
//   CommonJS and ES modules, `import * as`, default and named imports,
//   checkJs'd JavaScript, the server options, the socket API). It must
//   compile with no diagnostic at all; its `expectType<Same<...>>()` calls
//   fail if a type is wrong or degrades to `any`.
// - types/fail: code that must not compile. Every line ending in `// error`
//   must have a diagnostic, and no other line may have one.
//
// 'wsrs' resolves the way it does for users: through package.json
// ("exports", or "types" for the legacy node10 resolution), by the package's
// self-reference (the fixtures are inside it). index.d.ts serves both the
// CommonJS and the ES module entry. Node's own types come from
// types/shim/node, a small stand-in for @types/node, so that nothing but
// `typescript` is needed; when @types/node (and @types/ws) are installed, the
// fixtures are also compiled against the real @types/node, and wsrs's types
// are checked to be assignable to and from @types/ws's.

const test = require('ava');
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const ROOT = path.join(__dirname, '..');
const DIR = path.join(__dirname, 'types');
const DTS = path.join(ROOT, 'index.d.ts');
const SHIM = path.join(DIR, 'shim');

const list = (sub) =>
  fs
    .readdirSync(path.join(DIR, sub))
    .filter((f) => /\.(ts|cts|mts|cjs)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => path.join(DIR, sub, f));

const PASS = list('pass');
const FAIL = list('fail');
const isEsm = (file) => file.endsWith('.mts');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** The directory of an installed package (e.g. '@types/node'), or null. */
function installed(name) {
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }));
  } catch {
    return null;
  }
}

const BASE = {
  strict: true,
  noEmit: true,
  target: 'es2022',
  lib: ['es2022'],
  types: ['node'],
  typeRoots: [SHIM],
  allowJs: true,
  checkJs: true,
  esModuleInterop: true,
  skipLibCheck: false,
  forceConsistentCasingInFileNames: true
};

const CONFIGS = {
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'preserve', moduleResolution: 'bundler' },
  // Legacy resolution ignores "exports" (and self-references): `paths` maps
  // the name to the package directory, whose package.json "types" is used.
  node10: { module: 'commonjs', moduleResolution: 'node10', paths: { wsrs: [ROOT] } }
};

function compilerOptions(json) {
  const { options, errors } = ts.convertCompilerOptionsFromJson(json, DIR);
  if (errors.length) throw new Error(ts.flattenDiagnosticMessageText(errors[0].messageText, '\n'));
  return options;
}

// The default libraries are the same in every program: parse them once.
const libCache = new Map();
function createHost(options) {
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile;
  const libDir = path.dirname(ts.getDefaultLibFilePath(options));
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (path.dirname(fileName) !== libDir) return getSourceFile.call(host, fileName, languageVersion, ...rest);
    const key = `${fileName}\0${JSON.stringify(languageVersion)}`;
    if (!libCache.has(key)) libCache.set(key, getSourceFile.call(host, fileName, languageVersion, ...rest));
    return libCache.get(key);
  };
  return host;
}

const formatHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => '\n'
};
const format = (diagnostics) =>
  diagnostics.map((d) => ts.formatDiagnostic(d, formatHost).trim().replace(`${ROOT}${path.sep}`, ''));

function compile(files, json) {
  const options = compilerOptions(json);
  const host = createHost(options);
  const program = ts.createProgram({ rootNames: [path.join(DIR, 'assert.d.ts'), ...files], options, host });
  return { program, options, host };
}

/** Every diagnostic of `file` (syntactic and semantic). */
function diagnosticsOf(program, file) {
  const sf = program.getSourceFile(file);
  if (!sf) throw new Error(`not in the program: ${file}`);
  return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
}

/** The 1-based lines of `file` that end with `// error`. */
function markedLines(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const marked = new Set();
  lines.forEach((line, i) => {
    if (/^\s*[^\s/].*\/\/ error\s*$/.test(line)) marked.add(i + 1);
  });
  return marked;
}

/**
 * Compiles `pass` and `fail` together and checks: no global or option
 * diagnostics, none in the declarations, none in `pass`, and in each `fail`
 * file, errors on exactly the marked lines. Also checks what 'wsrs' resolved
 * to from each file.
 */
function check(t, { pass, fail, json }) {
  const { program, options, host } = compile([...pass, ...fail], json);

  t.deepEqual(format([...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]), [], 'global diagnostics');

  for (const file of [...pass, ...fail]) {
    const sf = program.getSourceFile(file);
    const { resolvedModule } = ts.resolveModuleName('wsrs', file, options, host, undefined, undefined, sf.impliedNodeFormat);
    t.is(resolvedModule && resolvedModule.resolvedFileName, DTS, `'wsrs' from ${path.basename(file)}`);
  }

  t.truthy(program.getSourceFile(DTS), 'index.d.ts is in the program');
  t.deepEqual(format(diagnosticsOf(program, DTS)), [], 'index.d.ts itself');

  for (const file of pass) {
    t.deepEqual(format(diagnosticsOf(program, file)), [], `${path.basename(file)} compiles`);
  }

  for (const file of fail) {
    const name = path.basename(file);
    const diagnostics = diagnosticsOf(program, file);
    t.true(diagnostics.length > 0, `${name} has errors`);
    const marked = markedLines(file);
    t.true(marked.size > 0, `${name} marks its errors`);
    const byLine = new Map();
    for (const d of diagnostics) {
      const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
      if (!byLine.has(line)) byLine.set(line, []);
      byLine.get(line).push(d);
    }
    const missing = [...marked].filter((line) => !byLine.has(line));
    t.deepEqual(missing, [], `${name}: lines marked // error that compile`);
    const unexpected = diagnostics.filter((d) => !marked.has(d.file.getLineAndCharacterOfPosition(d.start).line + 1));
    t.deepEqual(format(unexpected), [], `${name}: errors on unmarked lines`);
  }
}

for (const [name, config] of Object.entries(CONFIGS)) {
  test(`${name}: the fixtures compile, and the failing ones fail where marked`, (t) => {
    // .mts files need an ESM-aware resolution.
    const files = (list) => list.filter((f) => name !== 'node10' || !isEsm(f));
    check(t, { pass: files(PASS), fail: files(FAIL), json: { ...BASE, ...config } });
  });
}

test('package.json: index.d.ts is the types of both require() and import (node16)', (t) => {
  const options = compilerOptions({ ...BASE, ...CONFIGS.node16 });
  const host = createHost(options);
  const resolve = (from, mode) =>
    ts.resolveModuleName('wsrs', path.join(DIR, 'pass', from), options, host, undefined, undefined, mode).resolvedModule;
  t.is(resolve('x.cts', ts.ModuleKind.CommonJS).resolvedFileName, DTS);
  t.is(resolve('x.mts', ts.ModuleKind.ESNext).resolvedFileName, DTS);
  t.is(pkg.types, 'index.d.ts');
  t.true(pkg.files.includes('index.d.ts'));
});

// Optional: these need packages that are not devDependencies (yet).
const nodeTypes = installed('@types/node');
const wsTypes = installed('@types/ws');

(nodeTypes ? test : test.skip)('node16, against the real @types/node', (t) => {
  const json = { ...BASE, ...CONFIGS.node16, typeRoots: [path.dirname(nodeTypes)] };
  check(t, { pass: PASS, fail: FAIL, json });
});

(nodeTypes && wsTypes ? test : test.skip)('wsrs and @types/ws types are assignable to each other', (t) => {
  const json = { ...BASE, ...CONFIGS.node16, typeRoots: [path.dirname(nodeTypes)], paths: { ws: [wsTypes] } };
  const file = path.join(DIR, 'compat', 'ws-compat.ts');
  check(t, { pass: [file], fail: [], json });
});
