/**
 * Runs every test of the given test files alone, one process per test, and reports the
 * ones that fail (or do not run) that way: a test that passes only after its neighbours
 * depends on state they left behind.
 *
 *   node scripts/test-each.ts packages/server/test/snapshot/snapshot.test.ts [more files…]
 *
 * A test is selected with `--test-name-pattern` anchored on its full name (ancestor suite
 * names and its own, joined by spaces, as node:test matches them); the names come from one
 * ordinary run of the file first. Prints one line per test (`ok`, `FAIL`, `NOT RUN` — the
 * pattern selected nothing, e.g. two tests share a name) and exits 1 if any test is not
 * `ok`. Files run one after another, tests one at a time: the machine's cores stay free.
 */
import { run } from 'node:test';

/** A test (not a suite) of a file, by its full name. */
interface Leaf {
  fullName: string;
}

/** What one run of a file reported: leaves that passed and failed, with failure messages. */
interface Outcome {
  passed: string[];
  failed: Map<string, string>;
  leaves: Leaf[];
}

/** Regex source matching `s` literally. */
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Runs `file` (optionally only the tests matching `pattern`) and collects every test's
 * full name and result from node:test's event stream. `test:start` events come in
 * declaration order with their nesting, which gives each test's ancestors.
 */
async function runFile(file: string, pattern?: string): Promise<Outcome> {
  const stream = run({
    files: [file],
    concurrency: 1,
    ...(pattern ? { testNamePatterns: [pattern] } : {}),
  });
  const stack: string[] = [];
  const outcome: Outcome = { passed: [], failed: new Map(), leaves: [] };
  // Full name of the test that most recently started at each nesting, to name results.
  const current: string[] = [];
  for await (const event of stream) {
    if (event.type === 'test:start') {
      const { name, nesting } = event.data;
      stack.length = nesting;
      stack.push(name);
      current[nesting] = stack.join(' ');
    } else if (event.type === 'test:pass' || event.type === 'test:fail') {
      const { name, nesting, details } = event.data;
      // The file itself reports as a test at nesting 0 named after its path when a
      // top-level hook or import fails; count that as a failure too.
      const fullName = current[nesting]?.endsWith(name) ? current[nesting]! : name;
      if (details.type === 'suite' && event.type === 'test:pass') continue;
      if ('skip' in event.data && event.data.skip) continue;
      if (event.type === 'test:pass') {
        outcome.passed.push(fullName);
        outcome.leaves.push({ fullName });
      } else {
        const err = details.error as Error & { cause?: Error };
        const msg = (err.cause?.message ?? err.message ?? String(err)).split('\n')[0]!;
        outcome.failed.set(fullName, msg);
        if (details.type !== 'suite') outcome.leaves.push({ fullName });
      }
    }
  }
  return outcome;
}

async function main(files: string[]): Promise<number> {
  if (files.length === 0) {
    console.error('usage: node scripts/test-each.ts <file.test.ts>…');
    return 2;
  }
  let bad = 0;
  for (const file of files) {
    const all = await runFile(file);
    const names = [...new Set(all.leaves.map((l) => l.fullName))];
    console.log(`# ${file}: ${names.length} tests (${all.failed.size} failing in the full run)`);
    for (const name of names) {
      const alone = await runFile(file, `^${escapeRegex(name)}$`);
      const ran = alone.passed.length + alone.failed.size;
      let line: string;
      if (alone.failed.size > 0) line = `FAIL     ${name}: ${[...alone.failed.values()][0]}`;
      else if (ran === 0) line = `NOT RUN  ${name} (the pattern selected nothing)`;
      else line = `ok       ${name}`;
      if (!line.startsWith('ok')) bad++;
      console.log(line);
    }
  }
  console.log(bad === 0 ? '# every test passes alone' : `# ${bad} tests do not pass alone`);
  return bad === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
