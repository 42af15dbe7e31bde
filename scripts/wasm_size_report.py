#!/usr/bin/env python3
"""Size breakdown of a .wasm file: sections, and code bytes by crate (from the name section,
so run it on the un-optimised module in $CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/).
Usage: python3 scripts/wasm_size_report.py FILE.wasm"""
import collections
import re
import sys

def leb(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
b = open(sys.argv[1],'rb').read(); i = 8
imports_funcs = 0; bodies = []; names = {}
while i < len(b):
    sid = b[i]; i += 1; size, i = leb(b, i); end = i + size
    if sid == 2:
        n, j = leb(b, i)
        for _ in range(n):
            l, j = leb(b, j); j += l; l, j = leb(b, j); j += l
            kind = b[j]; j += 1
            if kind == 0: _, j = leb(b, j); imports_funcs += 1
            elif kind == 1: j += 1; f, j = leb(b, j); _, j = leb(b, j); (leb(b,j) if f & 1 else None); j = leb(b,j)[1] if f & 1 else j
            elif kind == 2: f, j = leb(b, j); _, j = leb(b, j); j = leb(b,j)[1] if f & 1 else j
            elif kind == 3: j += 2
    elif sid == 10:
        n, j = leb(b, i)
        for _ in range(n):
            l, j = leb(b, j); bodies.append(l); j += l
    elif sid == 0:
        n, j = leb(b, i); nm = b[j:j+n].decode(); j += n
        if nm == 'name':
            while j < end:
                sub = b[j]; j += 1; ssz, j = leb(b, j); send = j + ssz
                if sub == 1:
                    cnt, k = leb(b, j)
                    for _ in range(cnt):
                        idx, k = leb(b, k); l, k = leb(b, k); names[idx] = b[k:k+l].decode('utf8','replace'); k += l
                j = send
    i = end
sections = collections.Counter()
i = 8
while i < len(b):
    sid = b[i]; i += 1; size, i = leb(b, i)
    label = {1:'type',2:'import',3:'function',4:'table',5:'memory',6:'global',7:'export',9:'element',10:'code',11:'data'}.get(sid, str(sid))
    if sid == 0:
        n, j = leb(b, i); label = 'custom:' + b[j:j+n].decode()
    sections[label] += size; i += size
print(f'{sys.argv[1]}: {len(b):,} bytes')
for label, size in sections.most_common(6): print(f'  section {label:28s} {size:>11,d}')
groups = collections.Counter()
for fi, size in enumerate(bodies):
    name = names.get(fi + imports_funcs, '?')
    m = re.search(r'(burn_[a-z_]+|cubecl_[a-z_]+|cubek_[a-z_]+|wgpu[a-z_]*|naga|gemm[a-z_]*|serde_json|flate2|miniz_oxide|microlearning|core|alloc|std|hashbrown|wasm_bindgen[a-z_]*|js_sys|web_sys|pulp|macerator|rand[a-z_]*)', name)
    groups[m.group(1) if m else 'other'] += size
total = sum(bodies)
print(f'code bytes {total:,} in {len(bodies)} functions')
for g, s in groups.most_common(14): print(f'  {g:22s} {s:>11,d}  {100*s/total:5.1f}%')
