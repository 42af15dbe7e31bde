// Saving and opening files in the browser, without a server.

export function downloadBytes(buffer, name, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([buffer], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadText(text, name, type = 'text/plain') {
  downloadBytes(new TextEncoder().encode(text), name, type);
}

/** The file's bytes as an ArrayBuffer. */
export function readFile(file) {
  return file.arrayBuffer();
}
