// The drawing pad: the user draws with mouse, pen or finger; the drawing is turned into a
// 28 × 28 image the way MNIST digits were made (fit into a 20 × 20 box, centred by centre of
// mass in a 28 × 28 field, white on black) so the network sees what it was trained on.

export class DrawingPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.onChange = onChange;
    this.drawing = false;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      this.drawing = true;
      canvas.setPointerCapture(e.pointerId);
      this.last = this.position(e);
      this.stroke(this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      this.stroke(this.position(e));
    });
    const end = () => { this.drawing = false; };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  position(e) {
    const rect = this.canvas.getBoundingClientRect();
    return [
      (e.clientX - rect.left) * (this.canvas.width / rect.width),
      (e.clientY - rect.top) * (this.canvas.height / rect.height),
    ];
  }

  stroke(to) {
    const ctx = this.ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = this.canvas.width / 14;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...this.last);
    ctx.lineTo(...to);
    ctx.stroke();
    this.last = to;
    this.onChange(this.toMnist());
  }

  clear() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Float32Array(784) of intensities 0..255, or null for an empty pad. */
  toMnist() {
    const { width, height } = this.canvas;
    const src = this.ctx.getImageData(0, 0, width, height).data;
    let x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (src[4 * (y * width + x)] > 0) {
          if (x < x0) x0 = x; if (x > x1) x1 = x;
          if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    // Fit the bounding box into 20 × 20, keeping the aspect ratio.
    const boxW = x1 - x0 + 1;
    const boxH = y1 - y0 + 1;
    const scale = 20 / Math.max(boxW, boxH);
    const small = document.createElement('canvas');
    small.width = 28; small.height = 28;
    const sctx = small.getContext('2d', { willReadFrequently: true });
    sctx.fillStyle = '#000';
    sctx.fillRect(0, 0, 28, 28);
    sctx.imageSmoothingQuality = 'high';
    const w = boxW * scale;
    const h = boxH * scale;
    sctx.drawImage(this.canvas, x0, y0, boxW, boxH, (28 - w) / 2, (28 - h) / 2, w, h);
    const pixels = sctx.getImageData(0, 0, 28, 28).data;
    // Shift so the centre of mass sits at the centre, as in MNIST.
    let mass = 0, cx = 0, cy = 0;
    for (let i = 0; i < 784; i++) {
      const v = pixels[4 * i];
      mass += v; cx += v * (i % 28); cy += v * Math.floor(i / 28);
    }
    const dx = Math.round(13.5 - cx / mass);
    const dy = Math.round(13.5 - cy / mass);
    const out = new Float32Array(784);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const sx = x - dx, sy = y - dy;
        if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = pixels[4 * (sy * 28 + sx)];
      }
    }
    return out;
  }
}
