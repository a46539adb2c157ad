/* global process */
// The child process that draws SVGs with resvg for svgRaster.ts. A panic inside resvg aborts the
// process it runs in; here that is this child, never the command reading a team's pairs. It
// answers requests in the order they came, one at a time: { id, svg, size } -> { id, png } or
// { id, error }. Plain JavaScript, so it starts without a TypeScript loader.
import { Resvg } from '@resvg/resvg-js';

const font = { loadSystemFonts: false };

process.on('message', ({ id, svg, size }) => {
  try {
    const r = new Resvg(svg, { font, logLevel: 'off', background: '#ffffff', fitTo: { mode: 'original' } });
    const { width, height } = r;
    if (!(width > 0 && height > 0)) throw new Error(`SVG has no size (${width}x${height})`);
    const fitTo = width >= height ? { mode: 'width', value: size } : { mode: 'height', value: size };
    const png = new Resvg(svg, { font, logLevel: 'off', background: '#ffffff', fitTo }).render().asPng();
    process.send({ id, png });
  } catch (e) {
    process.send({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
