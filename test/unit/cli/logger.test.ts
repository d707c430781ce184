import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipelineRoutedLogger, stderrLogger } from '../../../src/cli/logger.js';

// src/cli/logger.ts (test/unit/logger.test.ts is src/core/logger.ts).

describe('the stderr logger', () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, write: (line: string) => lines.push(line) };
  };

  it('writes plain text for people, with the level in front', () => {
    const out = collect();
    const logger = stderrLogger(out.write, 'debug', 'text');
    logger.warning('careful');
    logger.verbose('doing it');
    logger.debug('details');
    assert.deepEqual(out.lines, ['WARNING: careful', 'VERBOSE: doing it', 'DEBUG: details']);
  });

  it('writes one JSON object a line for the module', () => {
    const out = collect();
    stderrLogger(out.write, 'verbose', 'json').verbose('a "quoted"\nline');
    assert.deepEqual(out.lines.map((l) => JSON.parse(l) as unknown), [{ level: 'verbose', message: 'a "quoted"\nline' }]);
    assert.equal(out.lines[0]!.includes('\n'), false, 'one line, whatever the message holds');
  });

  it('writes only the levels up to the one asked for', () => {
    for (const [level, expected] of [
      ['warning', ['warning']],
      ['verbose', ['warning', 'verbose']],
      ['debug', ['warning', 'verbose', 'debug']],
    ] as const) {
      const out = collect();
      const logger = stderrLogger(out.write, level, 'json');
      logger.debug('d');
      logger.verbose('v');
      logger.warning('w');
      assert.deepEqual(out.lines.map((l) => (JSON.parse(l) as { level: string }).level).sort(), [...expected].sort(), level);
    }
  });
});

describe("serve's pipeline-routed logger", () => {
  const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as { level: string; message: string; pipeline?: number });

  it('tags what work of a pipeline logs with that pipeline, and logs other work untagged at the session level', async () => {
    const lines: string[] = [];
    const routed = pipelineRoutedLogger((l) => lines.push(l), 'warning');
    routed.logger.verbose('session, below its level');
    routed.logger.warning('session');
    await routed.within(3, 'verbose', async () => {
      routed.logger.verbose('pipeline 3');
      routed.logger.debug('pipeline 3, below its level');
    });
    assert.deepEqual(parsed(lines), [
      { level: 'warning', message: 'session' },
      { level: 'verbose', message: 'pipeline 3', pipeline: 3 },
    ]);
  });

  it('keeps each pipeline at its own level while their work interleaves, across awaits', async () => {
    const lines: string[] = [];
    const routed = pipelineRoutedLogger((l) => lines.push(l), 'warning');
    const work = (pipeline: number, level: 'warning' | 'debug') =>
      routed.within(pipeline, level, async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          routed.logger.debug(`p${pipeline} step ${i}`);
        }
      });
    await Promise.all([work(1, 'debug'), work(2, 'warning')]);
    const logged = parsed(lines);
    assert.deepEqual(logged.map((l) => l.pipeline), [1, 1, 1], 'only pipeline 1 asked for debug');
    assert.ok(logged.every((l) => l.message.startsWith('p1 ')));
  });

  it('counts the lines written for each pipeline until told it is finished', async () => {
    const routed = pipelineRoutedLogger(() => undefined, 'warning');
    await routed.within(1, 'verbose', async () => {
      routed.logger.verbose('a');
      routed.logger.warning('b');
      routed.logger.debug('not written, not counted');
    });
    await routed.within(2, 'verbose', async () => routed.logger.verbose('c'));
    routed.logger.warning('untagged lines count for no pipeline');
    assert.equal(routed.written(1), 2);
    assert.equal(routed.written(2), 1);
    assert.equal(routed.written(1, true), 2, 'the last count, as it is forgotten');
    assert.equal(routed.written(1), 0);
    assert.equal(routed.written(7), 0, 'a pipeline that logged nothing');
  });
});
