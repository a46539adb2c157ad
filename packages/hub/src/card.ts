// Model cards are Markdown written by any team member and shown to everyone who may read the
// model, hub admins included, so the HTML they become passes through a maintained sanitizer
// (sanitize-html) with an allow-list. Markdown is rendered by marked with raw HTML turned
// into text and images into their alt text; the sanitizer then keeps only the tags below,
// only `href`/`title` on links and nothing on any other element, and only absolute http(s)
// links, each with rel="noopener noreferrer". Whatever spelling a scheme hides behind
// (entities, case, control characters), the sanitizer sees the decoded URL.
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const markdown = new Marked({
  gfm: true,
  renderer: {
    html: ({ text }) => escapeText(text),
    image: ({ text }) => escapeText(text),
  },
});

const HTTP = /^https?:\/\/[^\s/$.?#][^\s]*$/i;

const POLICY: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'p',
    'br',
    'hr',
    'blockquote',
    'pre',
    'code',
    'em',
    'strong',
    'del',
    's',
    'ul',
    'ol',
    'li',
    'a',
    'span',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
  ],
  allowedAttributes: { a: ['href', 'title', 'rel'] },
  allowedSchemes: ['http', 'https'],
  allowedSchemesAppliedToAttributes: ['href'],
  allowProtocolRelative: false,
  transformTags: {
    // Relative, protocol-relative and non-http(s) links lose their link and keep their text.
    a: (_tag, attribs) =>
      attribs.href && HTTP.test(attribs.href)
        ? { tagName: 'a', attribs: { href: attribs.href, ...(attribs.title ? { title: attribs.title } : {}), rel: 'noopener noreferrer' } }
        : { tagName: 'span', attribs: {} },
  },
};

/** A model card's Markdown body as HTML that is safe to insert into a page. */
export function renderCard(body: string): string {
  return sanitizeHtml(markdown.parse(body, { async: false }), POLICY);
}

/** Splits Hugging Face-style YAML front matter (`---` ... `---`) from the Markdown body. */
export function splitCard(card: string): { front: string | null; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(card);
  return m ? { front: m[1]!, body: card.slice(m[0].length) } : { front: null, body: card };
}
