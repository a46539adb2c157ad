// Model cards are the one place where a team member's text becomes HTML on everyone's page.
// A corpus of attribute-breakout and scheme payloads goes through the real renderer, and the
// resulting DOM (parsed by htmlparser2, as a browser would) is checked element by element.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument, DomUtils } from 'htmlparser2';
import type { Element } from 'domhandler';
import { renderCard, splitCard } from '../src/card.js';
import { HOSTILE_CARDS } from './fixtures/hostileCards.js';

const ALLOWED_TAGS = new Set(
  'h1 h2 h3 h4 h5 h6 p br hr blockquote pre code em strong del s ul ol li a span table thead tbody tr th td'.split(' '),
);

function elements(html: string): Element[] {
  return DomUtils.findAll(() => true, parseDocument(html).children);
}

/** Everything a browser could act on in the rendered HTML, as a list of faults (empty when safe). */
function faults(html: string): string[] {
  const out: string[] = [];
  for (const el of elements(html)) {
    if (!ALLOWED_TAGS.has(el.name)) out.push(`tag <${el.name}>`);
    for (const [attr, value] of Object.entries(el.attribs)) {
      if (/^on/i.test(attr)) out.push(`event handler ${attr}`);
      if (!['href', 'rel', 'title'].includes(attr)) out.push(`attribute ${attr} on <${el.name}>`);
      if (attr !== 'title' && el.name !== 'a') out.push(`${attr} on <${el.name}>`);
      if (attr === 'href' && !/^https?:\/\//i.test(value)) out.push(`href ${JSON.stringify(value)}`);
    }
    if (el.name === 'a' && el.attribs.rel !== 'noopener noreferrer') out.push(`link without rel: ${JSON.stringify(el.attribs)}`);
  }
  return out;
}

describe('model card rendering', () => {
  it('keeps Markdown formatting and http(s) links, with rel="noopener noreferrer"', () => {
    const html = renderCard('# Title\n\nSome **bold** and `code`.\n\n- a\n- b\n\n[docs](https://example.com/docs?a=1&b=2 "Docs")\n');
    const els = elements(html);
    assert.deepEqual(
      els.map((e) => e.name),
      ['h1', 'p', 'strong', 'code', 'ul', 'li', 'li', 'p', 'a'],
    );
    const a = els.find((e) => e.name === 'a')!;
    assert.deepEqual(a.attribs, { href: 'https://example.com/docs?a=1&b=2', title: 'Docs', rel: 'noopener noreferrer' });
    assert.equal(DomUtils.textContent(a), 'docs');
    assert.deepEqual(faults(html), []);
  });

  for (const [i, card] of HOSTILE_CARDS.entries())
    it(`neutralizes payload ${i}: ${JSON.stringify(card).slice(0, 70)}`, () => {
      const html = renderCard(card);
      assert.deepEqual(faults(html), [], html);
      // Raw HTML comes out as visible text, never as markup.
      if (card.startsWith('<script>')) assert.match(DomUtils.textContent(parseDocument(html)), /<script>alert\(1\)<\/script>/);
    });

  it('drops every link that is not absolute http(s) and keeps its text', () => {
    for (const card of ['[x](javascript:alert(1))', '[x](//evil.example/a)', '[x](/api/tokens)', '[x](data:text/html,hi)']) {
      const html = renderCard(card);
      assert.equal(DomUtils.findAll((e) => e.name === 'a', parseDocument(html).children).length, 0, html);
      assert.match(DomUtils.textContent(parseDocument(html)), /x/);
    }
  });

  it('renders images as their alt text and never as <img>', () => {
    const html = renderCard('![a diagram](https://example.com/x.png)');
    assert.equal(DomUtils.findAll((e) => e.name === 'img', parseDocument(html).children).length, 0);
    assert.match(DomUtils.textContent(parseDocument(html)), /a diagram/);
  });

  it('splits YAML front matter from the body', () => {
    assert.deepEqual(splitCard('---\nlicense: mit\n---\n# T\n'), { front: 'license: mit', body: '# T\n' });
    assert.deepEqual(splitCard('# T\n'), { front: null, body: '# T\n' });
  });
});
