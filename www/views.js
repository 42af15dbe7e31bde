// Drawing the model's state on canvases: first-layer filters, the confusion matrix and the
// gallery of misclassified test images. Plain 2-D canvas; each call is a few milliseconds.

export const CLASS_NAMES = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  fashion: ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'],
};

/** Diverging colour for v in [-1, 1]: blue (negative), white (0), red (positive). */
function diverging(v) {
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? [255, a, a] : [a, a, 255];
}

/** The first layer's kernels `{channels, size, values}`, in a grid of 8 columns of tiles. */
export function drawFilters(canvas, filters) {
  const ctx = canvas.getContext('2d');
  const cols = 8;
  const rows = filters ? Math.ceil(filters.channels / cols) : 4;
  const cell = Math.floor(canvas.width / cols);
  canvas.height = rows * cell;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!filters) return;
  const { channels, size, values } = filters;
  const px = (cell - 4) / size;
  let max = 1e-12;
  for (const w of values) max = Math.max(max, Math.abs(w));
  for (let k = 0; k < channels; k++) {
    const ox = (k % cols) * cell + 2;
    const oy = Math.floor(k / cols) * cell + 2;
    // Each kernel on its own scale, so fixed banks with small weights stay visible.
    let kmax = 1e-12;
    for (let i = 0; i < size * size; i++) kmax = Math.max(kmax, Math.abs(values[k * size * size + i]));
    const scale = filters.front_end === 'learned' ? max : kmax;
    for (let i = 0; i < size * size; i++) {
      const [r, g, b] = diverging(values[k * size * size + i] / scale);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(ox + (i % size) * px, oy + Math.floor(i / size) * px, Math.ceil(px), Math.ceil(px));
    }
  }
}

/** The 10 × 10 confusion matrix (rows: truth), shaded by row-normalised counts. */
export function drawConfusion(canvas, matrix, classNames) {
  const ctx = canvas.getContext('2d');
  const margin = 60;
  const cell = Math.floor((canvas.width - margin) / 10);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < 10; i++) {
    const row = matrix[i];
    const total = row.reduce((a, b) => a + b, 0) || 1;
    for (let j = 0; j < 10; j++) {
      const f = row[j] / total;
      const shade = Math.round(255 * (1 - f));
      ctx.fillStyle = i === j ? `rgb(${shade},${Math.round(255 - 120 * f)},${shade})` : `rgb(255,${shade},${shade})`;
      const x = margin + j * cell;
      const y = margin + i * cell;
      ctx.fillRect(x, y, cell - 1, cell - 1);
      ctx.fillStyle = f > 0.5 ? '#fff' : '#222';
      if (row[j] > 0) ctx.fillText(String(row[j]), x + cell / 2, y + cell / 2);
    }
    ctx.fillStyle = '#222';
    ctx.save();
    ctx.textAlign = 'right';
    ctx.fillText(classNames[i], margin - 4, margin + i * cell + cell / 2);
    ctx.restore();
    ctx.save();
    ctx.translate(margin + i * cell + cell / 2, margin - 4);
    ctx.rotate(-Math.PI / 4);
    ctx.textAlign = 'left';
    ctx.fillText(classNames[i], 0, 0);
    ctx.restore();
  }
}

/** A 28 × 28 grey image (0..255, row-major) on a small canvas. */
export function imageCanvas(pixels, scale = 2) {
  const canvas = document.createElement('canvas');
  canvas.width = 28; canvas.height = 28;
  canvas.style.width = `${28 * scale}px`;
  canvas.style.height = `${28 * scale}px`;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels[i];
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** The misclassified test images, each captioned "truth → predicted". */
export function drawGallery(container, items, classNames) {
  const fragment = document.createDocumentFragment();
  for (const item of items) {
    const figure = document.createElement('figure');
    figure.append(imageCanvas(item.pixels));
    const caption = document.createElement('figcaption');
    caption.textContent = `${classNames[item.label]} → ${classNames[item.predicted]}`;
    caption.title = `test image #${item.index}: truly ${classNames[item.label]}, predicted ${classNames[item.predicted]}`;
    figure.append(caption);
    fragment.append(figure);
  }
  container.replaceChildren(fragment);
  if (items.length === 0) container.textContent = 'No mistakes on the test set.';
}

/** Horizontal bars of the ten class probabilities. */
export function drawProbabilities(container, probabilities, classNames) {
  const best = probabilities.indexOf(Math.max(...probabilities));
  const rows = Array.from(probabilities, (p, i) => {
    const row = document.createElement('div');
    row.className = i === best ? 'bar best' : 'bar';
    const label = document.createElement('span');
    label.textContent = classNames[i];
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = `${(100 * p).toFixed(1)}%`;
    row.append(label, fill, value);
    return row;
  });
  container.replaceChildren(...rows);
}

const CLASS_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** A labelled heatmap of a square matrix (values in [lo, hi]), with the values written in. */
export function drawHeatmap(canvas, matrix, labels, { lo = 0, hi = 1, digits = 2 } = {}) {
  const ctx = canvas.getContext('2d');
  const n = matrix.length;
  const margin = 70;
  const cell = Math.floor((canvas.width - margin) / Math.max(n, 1));
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = `${Math.min(12, Math.max(8, cell / 3))}px system-ui, sans-serif`;
  ctx.textBaseline = 'middle';
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = matrix[i][j];
      const f = Math.max(0, Math.min(1, (v - lo) / (hi - lo || 1)));
      ctx.fillStyle = `rgb(${Math.round(255 - 220 * f)},${Math.round(255 - 150 * f)},${Math.round(255 - 60 * f)})`;
      ctx.fillRect(margin + j * cell, margin + i * cell, cell - 1, cell - 1);
      if (cell >= 22) {
        ctx.fillStyle = f > 0.6 ? '#fff' : '#222';
        ctx.textAlign = 'center';
        ctx.fillText(Number.isFinite(v) ? v.toFixed(digits) : '–', margin + j * cell + cell / 2, margin + i * cell + cell / 2);
      }
    }
    ctx.fillStyle = '#222';
    ctx.textAlign = 'right';
    ctx.fillText(String(labels[i]).slice(0, 11), margin - 3, margin + i * cell + cell / 2);
    ctx.save();
    ctx.translate(margin + i * cell + cell / 2, margin - 3);
    ctx.rotate(-Math.PI / 3);
    ctx.textAlign = 'left';
    ctx.fillText(String(labels[i]).slice(0, 11), 0, 0);
    ctx.restore();
  }
}

/** A scatter of [x, y, class] points coloured by class. */
export function drawScatter(canvas, points, classNames) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!points.length) return;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = 12;
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (canvas.width - 2 * pad - 60);
  const sy = (y) => canvas.height - pad - ((y - y0) / (y1 - y0 || 1)) * (canvas.height - 2 * pad);
  for (const [x, y, c] of points) {
    ctx.fillStyle = CLASS_COLOURS[c % 10];
    ctx.beginPath();
    ctx.arc(sx(x), sy(y), 2.2, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.font = '10px system-ui, sans-serif';
  classNames.forEach((name, c) => {
    ctx.fillStyle = CLASS_COLOURS[c];
    ctx.fillText(name, canvas.width - 56, 14 + 13 * c);
  });
}

/** A layer's response maps `{channels, size, values}` as a grid of grey images (8 columns),
 * each scaled to its own maximum. */
export function drawResponseMaps(canvas, maps) {
  const { channels, size, values } = maps;
  const cols = 8;
  const rows = Math.ceil(channels / cols);
  canvas.width = cols * (size + 2);
  canvas.height = rows * (size + 2);
  canvas.style.width = `${cols * (size + 2) * 1.5}px`;
  canvas.style.imageRendering = 'pixelated';
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const image = ctx.createImageData(size, size);
  for (let c = 0; c < channels; c++) {
    let max = 1e-12;
    for (let i = 0; i < size * size; i++) max = Math.max(max, values[c * size * size + i]);
    for (let i = 0; i < size * size; i++) {
      const v = Math.round(255 * Math.max(0, values[c * size * size + i]) / max);
      image.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(image, (c % cols) * (size + 2) + 1, Math.floor(c / cols) * (size + 2) + 1);
  }
}
