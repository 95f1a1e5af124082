//! SIMD delimiter scanner for MIME multipart bodies (wasm32 + simd128).
//!
//! The only consumer is `src/multipart/wasm_scanner.ts`. Every scan engine is
//! a handle (a pointer to an [`Engine`] in linear memory) that owns one
//! reusable window; several engines can live at once in one instance.
//!
//! Search, in three layers, each handing the rest of the range to the next
//! when its filter stops paying off, so the total work per `engine_find` call
//! is linear in the size of the range whatever the data:
//! 1. needles of 32+ bytes ([`skip_find`]): load one 16-byte block every
//!    `len - 15` bytes (every occurrence holds exactly one of them) and skip
//!    it unless all its bytes are in the needle's byte range and byte set;
//! 2. [`find`]: a v128 filter on two bytes of the needle (chosen by a fixed
//!    rarity heuristic that avoids CR, LF, `-`, NUL and 12/16-bit pixel high
//!    bytes), v128 verification of each candidate, and a badness counter:
//!    when false positives get denser than one per [`BAD_SPACING`] bytes,
//! 3. [`kmp`]: Knuth-Morris-Pratt with Knuth's failure links, extending
//!    matched runs 16 bytes at a time and skipping to the next first needle
//!    byte (v128) while no prefix is matched.
//!
//! ABI (all integers are i32; pointers are offsets into `memory`):
//! - `engine_new() -> handle` (0 when out of memory)
//! - `engine_free(handle)`
//! - `engine_reserve(handle, size, keep) -> window ptr` (0 when out of memory)
//! - `engine_capacity(handle) -> window length`
//! - `engine_needle(handle) -> ptr` of an 80-byte buffer to write the needle to
//! - `engine_set_needle(handle, len) -> 0 | -1` (-1: len outside 1..=80)
//! - `engine_find(handle, from, to) -> index | -1`

#![no_std]

use core::arch::wasm32::{
    i8x16_bitmask, i8x16_swizzle, memory_grow, memory_size, u8x16, u8x16_all_true, u8x16_eq,
    u8x16_le, u8x16_shr, u8x16_splat, u8x16_sub, v128, v128_and, v128_any_true, v128_load, v128_or,
};

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Longest accepted needle (`\r\n--` plus a 70-byte boundary, plus slack).
const MAX_NEEDLE: usize = 80;
const PAGE: usize = 65536;
/// Largest window: results must fit a positive i32.
const MAX_WINDOW: usize = 1 << 30;
/// Smallest block handed out by the allocator (log2).
const MIN_CLASS: u32 = 6;
/// Free false positives before the badness counter may trip.
const FREE_CANDIDATES: usize = 32;
/// Switch to KMP when false positives are denser than one per this many bytes.
const BAD_SPACING: usize = 8;
/// Shortest needle for the block-skipping filter ([`skip_find`]).
const SKIP_MIN_NEEDLE: usize = 32;
/// Free passing blocks before the block filter may give up.
const FREE_BLOCKS: usize = 16;
/// Give up block skipping when more than one block in this many passes the
/// filter (a passing block costs a [`find`] over about `2 * len` bytes).
const BAD_BLOCKS: usize = 4;

/// One scan engine. `needle` comes first so that its address is the handle.
#[repr(C, align(16))]
pub struct Engine {
    /// The needle, zero padded to allow 16-byte loads past its end.
    needle: [u8; 96],
    /// KMP border lengths: `kmp[q]` for a matched prefix of length `q`.
    kmp: [u8; 96],
    /// Byte-set filter, low-nibble table: bit `h & 7` of `lo[l]` is set when
    /// the needle holds a byte with high nibble `h` and low nibble `l`.
    lo: [u8; 16],
    /// Smallest needle byte and the span up to the largest.
    min: u8,
    span: u8,
    /// Knuth's optimised failure links: the longest border `b` of the first
    /// `q` bytes with `needle[b] != needle[q]` (or 0).
    next: [u8; 96],
    window: usize,
    cap: usize,
    len: usize,
    o1: usize,
    o2: usize,
}

// ---------------------------------------------------------------------------
// Allocator: power-of-two size classes with one free list per class. Blocks
// are 64-byte aligned and carved from the top of memory, which only grows.
// Untouched pages of a rounded-up block cost address space, not RAM.

static mut HEAP_TOP: usize = 0;
static mut HEAP_END: usize = 0;
static mut FREE: [usize; 32] = [0; 32];

extern "C" {
    static __heap_base: u8;
}

fn class_of(size: usize) -> u32 {
    let s = if size < (1 << MIN_CLASS) {
        1 << MIN_CLASS
    } else {
        size
    };
    usize::BITS - (s - 1).leading_zeros()
}

unsafe fn alloc(class: u32) -> usize {
    let head = FREE[(class & 31) as usize];
    if head != 0 {
        FREE[(class & 31) as usize] = *(head as *const usize);
        return head;
    }
    if HEAP_END == 0 {
        HEAP_TOP = &__heap_base as *const u8 as usize;
        HEAP_END = memory_size(0) * PAGE;
    }
    let size = 1usize << class;
    let start = (HEAP_TOP + 63) & !63;
    let end = match start.checked_add(size) {
        Some(end) if end <= 0xFFFF_0000 => end,
        _ => return 0,
    };
    if end > HEAP_END {
        let pages = (end - HEAP_END + PAGE - 1) / PAGE;
        if memory_grow(0, pages) == usize::MAX {
            return 0;
        }
        HEAP_END += pages * PAGE;
    }
    HEAP_TOP = end;
    start
}

unsafe fn free(ptr: usize, class: u32) {
    *(ptr as *mut usize) = FREE[(class & 31) as usize];
    FREE[(class & 31) as usize] = ptr;
}

// ---------------------------------------------------------------------------
// Exports

/// Creates an engine with no window and no needle. Returns 0 when out of memory.
#[no_mangle]
pub unsafe extern "C" fn engine_new() -> *mut Engine {
    let class = class_of(core::mem::size_of::<Engine>());
    let ptr = alloc(class) as *mut Engine;
    if ptr.is_null() {
        return ptr;
    }
    ptr.write(Engine {
        needle: [0; 96],
        kmp: [0; 96],
        next: [0; 96],
        lo: [0; 16],
        min: 0,
        span: 0,
        window: 0,
        cap: 0,
        len: 0,
        o1: 0,
        o2: 0,
    });
    ptr
}

/// Releases an engine and its window.
#[no_mangle]
pub unsafe extern "C" fn engine_free(e: *mut Engine) {
    if e.is_null() {
        return;
    }
    let cap = (*e).cap;
    if cap != 0 {
        free((*e).window, class_of(cap));
    }
    free(e as usize, class_of(core::mem::size_of::<Engine>()));
}

/// Makes the window at least `size` bytes, keeping its first `keep` bytes.
/// Returns the window pointer (unchanged when already big enough), or 0 when
/// out of memory or `size` is over the limit (the old window is then kept).
#[no_mangle]
pub unsafe extern "C" fn engine_reserve(e: *mut Engine, size: usize, keep: usize) -> usize {
    let e = &mut *e;
    if size <= e.cap {
        return e.window;
    }
    if size > MAX_WINDOW {
        return 0;
    }
    let class = class_of(size);
    let ptr = alloc(class);
    if ptr == 0 {
        return 0;
    }
    if e.cap != 0 {
        let keep = if keep < e.cap { keep } else { e.cap };
        copy_bytes(e.window as *const u8, ptr as *mut u8, keep);
        free(e.window, class_of(e.cap));
    }
    e.window = ptr;
    e.cap = 1 << class;
    ptr
}

/// The window length (a power of two, at least the last reserved size).
#[no_mangle]
pub unsafe extern "C" fn engine_capacity(e: *const Engine) -> usize {
    (*e).cap
}

/// Where to write the needle before `engine_set_needle` (80 bytes).
#[no_mangle]
pub unsafe extern "C" fn engine_needle(e: *mut Engine) -> *mut u8 {
    (*e).needle.as_mut_ptr()
}

/// Takes the first `len` bytes written at `engine_needle` as the needle.
/// Returns 0, or -1 when `len` is not in 1..=80.
#[no_mangle]
pub unsafe extern "C" fn engine_set_needle(e: *mut Engine, len: usize) -> i32 {
    let e = &mut *e;
    if len == 0 || len > MAX_NEEDLE {
        e.len = 0;
        return -1;
    }
    let mut i = len;
    while i < e.needle.len() {
        *e.needle.get_unchecked_mut(i) = 0;
        i += 1;
    }
    let n = &e.needle;
    // KMP border table.
    e.kmp[0] = 0;
    e.kmp[1] = 0;
    let mut k = 0usize;
    let mut q = 1usize;
    while q < len {
        while k > 0 && at(n, k) != at(n, q) {
            k = at(&e.kmp, k) as usize;
        }
        if at(n, k) == at(n, q) {
            k += 1;
        }
        *e.kmp.get_unchecked_mut(q + 1) = k as u8;
        q += 1;
    }
    e.next[0] = 0;
    let mut q = 1usize;
    while q < len {
        let b = at(&e.kmp, q) as usize;
        *e.next.get_unchecked_mut(q) = if at(n, b) != at(n, q) {
            b as u8
        } else {
            at(&e.next, b)
        };
        q += 1;
    }
    // Byte-set filter.
    e.lo = [0; 16];
    let mut i = 0;
    while i < len {
        let b = at(n, i);
        *e.lo.get_unchecked_mut((b & 15) as usize) |= 1 << ((b >> 4) & 7);
        i += 1;
    }
    let (mut lo, mut hi) = (255u8, 0u8);
    let mut i = 0;
    while i < len {
        let b = at(n, i);
        lo = if b < lo { b } else { lo };
        hi = if b > hi { b } else { hi };
        i += 1;
    }
    e.min = lo;
    e.span = hi - lo;
    // Filter bytes: the rarest-looking byte (ties: the later offset), then the
    // rarest-looking byte of another value at another offset.
    let mut o2 = len - 1;
    let mut i = len - 1;
    while i > 0 {
        i -= 1;
        if rank(at(n, i)) < rank(at(n, o2)) {
            o2 = i;
        }
    }
    let mut o1 = usize::MAX;
    let mut i = len;
    while i > 0 {
        i -= 1;
        if i == o2 || at(n, i) == at(n, o2) {
            continue;
        }
        if o1 == usize::MAX || rank(at(n, i)) < rank(at(n, o1)) {
            o1 = i;
        }
    }
    if o1 == usize::MAX {
        // One repeated byte: any other offset (or the same one for len 1).
        o1 = if o2 > 0 {
            o2 - 1
        } else if len > 1 {
            1
        } else {
            0
        };
    }
    e.o1 = o1;
    e.o2 = o2;
    e.len = len;
    0
}

/// The first index `i` in `[from, to - len]` where the needle occurs, or -1.
/// `to` is clamped to the window; -1 too when no needle is set.
#[no_mangle]
pub unsafe extern "C" fn engine_find(e: *const Engine, from: usize, to: usize) -> isize {
    let e = &*e;
    let to = if to < e.cap { to } else { e.cap };
    if e.len == 0 || from > to || to - from < e.len {
        return -1;
    }
    if e.len >= SKIP_MIN_NEEDLE {
        skip_find(e, from, to)
    } else {
        find(e, from, to)
    }
}

// ---------------------------------------------------------------------------
// Search

/// A fixed guess of how common a byte is in DICOM / pixel data / headers
/// (higher: more common). Boundaries are ASCII, so this orders bchars.
fn rank(b: u8) -> u8 {
    match b {
        0x00 => 255,
        0xFF => 250,
        b'\r' | b'\n' => 245,
        b'-' => 240,
        b' ' => 230,
        0x01..=0x0F => 220,
        0x10..=0x1F => 180,
        b'0'..=b'9' | b'.' => 130,
        b'A'..=b'Z' => 110,
        b'a'..=b'z' => 90,
        0x21..=0x7E => 90,
        _ => 60,
    }
}

/// `a[i]` without a bounds check (every index here is below 96 by construction).
#[inline(always)]
unsafe fn at(a: &[u8; 96], i: usize) -> u8 {
    *a.get_unchecked(i)
}

#[inline(always)]
unsafe fn load(p: *const u8) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, n: usize) {
    let mut i = 0;
    while i + 16 <= n {
        core::ptr::write_unaligned(dst.add(i) as *mut v128, load(src.add(i)));
        i += 16;
    }
    while i < n {
        *dst.add(i) = *src.add(i);
        i += 1;
    }
}

/// Whether the needle occurs at `c` (the caller guarantees `c + len <= cap`).
#[inline(always)]
unsafe fn verify(e: &Engine, c: usize) -> bool {
    let m = e.len;
    let p = (e.window as *const u8).add(c);
    let n = e.needle.as_ptr();
    if m >= 16 {
        // All blocks are compared before one test: near misses fail at a
        // random block, and an early exit there would be mispredicted.
        let mut all = u8x16_eq(load(p.add(m - 16)), load(n.add(m - 16)));
        let mut k = 0;
        while k + 16 < m {
            all = v128_and(all, u8x16_eq(load(p.add(k)), load(n.add(k))));
            k += 16;
        }
        u8x16_all_true(all)
    } else if c + 16 <= e.cap {
        let mask = i8x16_bitmask(u8x16_eq(load(p), load(n))) as u32;
        (mask | (0xFFFF << m)) & 0xFFFF == 0xFFFF
    } else {
        let mut k = 0;
        while k < m {
            if *p.add(k) != *n.add(k) {
                return false;
            }
            k += 1;
        }
        true
    }
}

/// `bit (h & 7)` for each high nibble `h`: the other half of the byte-set test.
const HI_BITS: v128 = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);

/// Block-skipping search for needles of 32+ bytes. An occurrence at `c` holds
/// the block `[x, x + 16)` for exactly one `x` on a grid of step
/// `s = len - 15`, so only those blocks are loaded. A block passes when all
/// its bytes lie in the needle's byte range and (second look) are in its byte
/// set (nibble tables, may over-approximate); then the `s` start positions
/// that could hold it go through [`find`]. When blocks pass too often (text
/// made of needle bytes), [`find`] takes over the rest of the range.
unsafe fn skip_find(e: &Engine, from: usize, to: usize) -> isize {
    let base = e.window as *const u8;
    let m = e.len;
    let s = m - 15;
    let last = to - m;
    let vmin = u8x16_splat(e.min);
    let vspan = u8x16_splat(e.span);
    let lo_table = load(e.lo.as_ptr());
    let nibble = u8x16_splat(15);
    let mut passed = 0usize;

    // Whether every byte of the block for the region starting at `r` lies in
    // the needle's byte range.
    macro_rules! in_range {
        ($r:expr) => {
            i8x16_bitmask(u8x16_le(
                u8x16_sub(load(base.add($r + m - 16)), vmin),
                vspan,
            )) == 0xFFFF
        };
    }
    // Handles a region whose block is in range: returns on a match, on the
    // end of the range, or by handing the rest of the range to `find`.
    macro_rules! region {
        ($r:expr) => {{
            let r = $r;
            let v = load(base.add(r + m - 16));
            let hit = v128_and(
                i8x16_swizzle(lo_table, v128_and(v, nibble)),
                i8x16_swizzle(HI_BITS, u8x16_shr(v, 4)),
            );
            if u8x16_all_true(hit) {
                let end = if r + s - 1 < last { r + s - 1 } else { last };
                let found = find(e, r, end + m);
                if found >= 0 {
                    return found;
                }
                passed += 1;
                if passed > FREE_BLOCKS && passed * BAD_BLOCKS * s > r + s - from {
                    return if end < last { find(e, end + 1, to) } else { -1 };
                }
            }
        }};
    }

    let mut r = from; // region r..r + s, its block at r + m - 16
    if last >= 3 * s {
        let lim = last - 3 * s;
        while r <= lim {
            let p0 = in_range!(r);
            let p1 = in_range!(r + s);
            let p2 = in_range!(r + 2 * s);
            let p3 = in_range!(r + 3 * s);
            if p0 | p1 | p2 | p3 {
                if p0 {
                    region!(r);
                }
                if p1 {
                    region!(r + s);
                }
                if p2 {
                    region!(r + 2 * s);
                }
                if p3 {
                    region!(r + 3 * s);
                }
            }
            r += 4 * s;
        }
    }
    while r <= last {
        if in_range!(r) {
            region!(r);
        }
        r += s;
    }
    -1
}

/// The v128 filter-and-verify search; falls back to [`kmp`] on bad input.
/// Requires `to <= cap` and `to - from >= len`.
unsafe fn find(e: &Engine, from: usize, to: usize) -> isize {
    let base = e.window as *const u8;
    let m = e.len;
    let last = to - m;
    let (o1, o2) = (e.o1, e.o2);
    let maxo = if o1 > o2 { o1 } else { o2 };
    let s1 = u8x16_splat(at(&e.needle, o1));
    let s2 = u8x16_splat(at(&e.needle, o2));
    let mut fp = 0usize;
    let mut i = from;

    // Examines candidate `c` (in increasing order): returns on a match, on
    // the end of the range, or by switching to KMP when candidates are bad.
    macro_rules! candidate {
        ($c:expr) => {{
            let c = $c;
            if c > last {
                return -1;
            }
            if verify(e, c) {
                return c as isize;
            }
            fp += 1;
            if fp > FREE_CANDIDATES && fp * BAD_SPACING > c - from {
                return kmp(e, c + 1, to);
            }
        }};
    }
    macro_rules! block {
        ($p:expr) => {
            v128_and(
                u8x16_eq(load($p.add(o1)), s1),
                u8x16_eq(load($p.add(o2)), s2),
            )
        };
    }

    if to >= maxo + 64 {
        let lim = to - maxo - 64;
        while i <= lim {
            let p = base.add(i);
            let a0 = block!(p);
            let a1 = block!(p.add(16));
            let a2 = block!(p.add(32));
            let a3 = block!(p.add(48));
            if v128_any_true(v128_or(v128_or(a0, a1), v128_or(a2, a3))) {
                let mut mask = (i8x16_bitmask(a0) as u64)
                    | (i8x16_bitmask(a1) as u64) << 16
                    | (i8x16_bitmask(a2) as u64) << 32
                    | (i8x16_bitmask(a3) as u64) << 48;
                while mask != 0 {
                    let c = i + mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    candidate!(c);
                }
            }
            i += 64;
        }
    }
    if to >= maxo + 16 {
        let lim = to - maxo - 16;
        while i <= lim {
            let mut mask = i8x16_bitmask(block!(base.add(i))) as u32;
            while mask != 0 {
                let c = i + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                candidate!(c);
            }
            i += 16;
        }
        if i > last {
            return -1;
        }
        // One overlapping block ending at `to` covers the rest (its bytes
        // before `i`, maybe before `from`, are masked out).
        if i - lim < 16 {
            let mut mask = (i8x16_bitmask(block!(base.add(lim))) as u32) >> (i - lim);
            while mask != 0 {
                let c = i + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                candidate!(c);
            }
            return -1;
        }
    }
    // Range too short for a v128 block.
    let (b1, b2) = (at(&e.needle, o1), at(&e.needle, o2));
    while i <= last {
        if *base.add(i + o1) == b1 && *base.add(i + o2) == b2 {
            candidate!(i);
        }
        i += 1;
    }
    -1
}

/// First index of byte `b` in `[i, end)`.
#[inline(always)]
unsafe fn memchr(base: *const u8, b: u8, mut i: usize, end: usize) -> Option<usize> {
    let s = u8x16_splat(b);
    while i + 16 <= end {
        let mask = i8x16_bitmask(u8x16_eq(load(base.add(i)), s));
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
        }
        i += 16;
    }
    while i < end {
        if *base.add(i) == b {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Knuth-Morris-Pratt from `start`: linear in `to - start` whatever the data.
/// Matched runs are extended 16 bytes at a time with v128 compares, and while
/// no prefix is matched it skips ahead to the next first needle byte. Every
/// step advances `i`; failure links only ever shorten the matched prefix.
#[inline(never)]
unsafe fn kmp(e: &Engine, start: usize, to: usize) -> isize {
    let base = e.window as *const u8;
    let n = &e.needle;
    let m = e.len;
    let end = to - m + 1; // a match starts before `end`
    let vec_end = e.cap - 16; // a 16-byte load at `i <= vec_end` is in memory
    let mut q = 0usize; // hay[i - q..i] == needle[..q]
    let mut i = start;
    loop {
        if q == 0 {
            i = match memchr(base, at(n, 0), i, end) {
                Some(j) => j,
                None => return -1,
            };
        }
        if i >= to {
            return -1;
        }
        let avail = to - i;
        let want = m - q;
        let k;
        if i <= vec_end {
            let eq = i8x16_bitmask(u8x16_eq(load(base.add(i)), load(n.as_ptr().add(q))));
            k = (!(eq as u32) | 0x1_0000).trailing_zeros() as usize;
            if k >= want {
                return if want <= avail { (i - q) as isize } else { -1 };
            }
            if k >= avail {
                return -1;
            }
            if k == 16 {
                q += 16;
                i += 16;
                continue;
            }
        } else {
            k = 0;
        }
        // Byte `i + k` is the first not known to match `needle[q + k]`.
        q += k;
        i += k;
        let b = *base.add(i);
        while q > 0 && at(n, q) != b {
            q = at(&e.next, q) as usize;
        }
        if at(n, q) == b {
            q += 1;
            if q == m {
                return (i + 1 - m) as isize;
            }
        }
        i += 1;
    }
}
