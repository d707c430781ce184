import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion, repoRoot } from '../support/paths.js';

// The Azure SDK changelog headings, in the order they must appear within a version.
const HEADINGS = ['Features Added', 'Breaking Changes', 'Bugs Fixed', 'Other Changes'] as const;

const UNRELEASED = '[Unreleased]';
const RELEASED = /^\[(\d+)\.(\d+)\.(\d+)\] - (\d{4})-(\d{2})-(\d{2})$/;

interface Heading {
  title: string;
  line: number;
  entries: number;
}

interface Section {
  title: string;
  line: number;
  /** Non-blank lines before the first ### heading. */
  loose: number[];
  headings: Heading[];
}

interface Changelog {
  intro: string;
  /** ### headings outside any version section. */
  stray: number[];
  sections: Section[];
}

function parse(text: string): Changelog {
  const changelog: Changelog = { intro: '', stray: [], sections: [] };
  const intro: string[] = [];
  let section: Section | undefined;
  let heading: Heading | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const version = /^## (.*)$/.exec(raw);
    const sub = /^### (.*)$/.exec(raw);
    if (version) {
      section = { title: (version[1] ?? '').trim(), line, loose: [], headings: [] };
      heading = undefined;
      changelog.sections.push(section);
    } else if (sub) {
      heading = { title: (sub[1] ?? '').trim(), line, entries: 0 };
      if (section) section.headings.push(heading);
      else changelog.stray.push(line);
    } else if (raw.trim() !== '') {
      if (!section) intro.push(raw);
      else if (heading) {
        // A list item is an entry; indented lines continue the item above.
        if (raw.startsWith('- ')) heading.entries += 1;
      } else section.loose.push(line);
    }
  });
  changelog.intro = intro.join(' ').replace(/\s+/g, ' ');
  return changelog;
}

/** Releases newest first: [major, minor, patch, date]. */
function released(sections: Section[]): { title: string; version: [number, number, number]; date: string }[] {
  return sections
    .filter((s) => s.title !== UNRELEASED)
    .map((s) => {
      const m = RELEASED.exec(s.title);
      assert.ok(m, `version section "## ${s.title}" (line ${s.line})`);
      return { title: s.title, version: [Number(m[1]), Number(m[2]), Number(m[3])], date: `${m[4]}-${m[5]}-${m[6]}` };
    });
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

describe('CHANGELOG.md', () => {
  let changelog: Changelog;
  let version: string;

  before(() => {
    const root = repoRoot();
    changelog = parse(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'));
    version = packageVersion();
  });

  it('has at least one released version section', () => {
    assert.ok(released(changelog.sections).length > 0);
  });

  it('uses only the four fixed headings, in order, each at most once per version', () => {
    for (const section of changelog.sections) {
      const titles = section.headings.map((h) => h.title);
      for (const heading of section.headings) {
        assert.ok((HEADINGS as readonly string[]).includes(heading.title), `"### ${heading.title}" (line ${heading.line}) is not one of: ${HEADINGS.join(', ')}`);
      }
      const expected = HEADINGS.filter((h) => titles.includes(h));
      assert.deepEqual(titles, expected, `headings of "## ${section.title}" (line ${section.line})`);
    }
  });

  it('has no empty heading: every heading has at least one entry', () => {
    for (const section of changelog.sections) {
      for (const heading of section.headings) {
        assert.ok(heading.entries > 0, `"### ${heading.title}" in "## ${section.title}" (line ${heading.line}) has no entries`);
      }
    }
  });

  it('keeps every entry under a heading of a version section', () => {
    assert.deepEqual(changelog.stray, [], 'lines of ### headings before the first version section');
    for (const section of changelog.sections) {
      assert.deepEqual(section.loose, [], `lines of "## ${section.title}" outside any heading`);
    }
  });

  it('names its versions "[Unreleased]" (first, at most once) or "[x.y.z] - YYYY-MM-DD" with a real date', () => {
    const unreleased = changelog.sections.map((s, i) => (s.title === UNRELEASED ? i : -1)).filter((i) => i >= 0);
    assert.ok(unreleased.length <= 1, 'at most one [Unreleased] section');
    if (unreleased.length === 1) assert.equal(unreleased[0], 0, '[Unreleased] comes first');
    for (const release of released(changelog.sections)) {
      const date = new Date(`${release.date}T00:00:00Z`);
      assert.ok(!Number.isNaN(date.getTime()) && date.toISOString().startsWith(release.date), `${release.title}: a real date`);
    }
  });

  it('lists released versions newest first, with no version twice and dates never increasing', () => {
    const releases = released(changelog.sections);
    for (let i = 1; i < releases.length; i++) {
      const newer = releases[i - 1];
      const older = releases[i];
      assert.ok(newer && older);
      assert.ok(compareVersions(newer.version, older.version) > 0, `${newer.title} comes before ${older.title}`);
      assert.ok(newer.date >= older.date, `${newer.title} is not dated before ${older.title}`);
    }
  });

  it("has package.json's version as its newest released version", () => {
    const newest = released(changelog.sections)[0];
    assert.ok(newest);
    assert.equal(newest.version.join('.'), version);
  });

  it('names the four headings, in order, in its introduction', () => {
    const positions = HEADINGS.map((h) => changelog.intro.indexOf(h));
    assert.ok(positions.every((p) => p >= 0), `the introduction names ${HEADINGS.join(', ')}`);
    assert.deepEqual([...positions].sort((a, b) => a - b), positions, 'in the fixed order');
  });
});
