//! The seed article's benchmarked functions, in Rust (shared by the `seed`
//! benchmarks and the test that checks their allocation counts).
#![allow(dead_code)] // each user takes what it needs

use std::collections::HashMap;
use std::sync::RwLock;

/// The article's recursive Fibonacci.
pub fn fibonacci(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fibonacci(n - 1) + fibonacci(n - 2)
    }
}

/// Go's `s += "a"` pathology in Rust: a fresh `String` every step (`format!`
/// copies the old one into a new allocation), n allocations, O(n²) copying.
pub fn concat_plus(n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s = format!("{s}a");
    }
    s
}

/// Go's `strings.Builder`: one growing buffer (capacity doubles as needed).
pub fn concat_builder(n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push('a');
    }
    s
}

/// Go's `strings.Builder` after `Grow(n)`: exactly one allocation.
pub fn concat_builder_prealloc(n: usize) -> String {
    let mut s = String::with_capacity(n);
    for _ in 0..n {
        s.push('a');
    }
    s
}

/// Appending to a vector that starts empty: it grows by doubling.
pub fn slice_without_prealloc(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(i);
    }
    v
}

/// Appending to a vector with the exact capacity: one allocation.
pub fn slice_with_prealloc(n: usize) -> Vec<usize> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(i);
    }
    v
}

/// The article's `process`: doubles each index into the slice.
pub fn process(data: &mut [usize]) {
    for (i, x) in data.iter_mut().enumerate() {
        *x = i * 2;
    }
}

/// A read-mostly shared map, as services keep configuration or caches.
pub fn shared_map(entries: u64) -> RwLock<HashMap<u64, u64>> {
    RwLock::new((0..entries).map(|i| (i, i * i)).collect())
}

/// One lookup in the shared map; one write in 64 calls.
pub fn map_access(map: &RwLock<HashMap<u64, u64>>, i: u64) -> u64 {
    let key = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1024;
    if i % 64 == 0 {
        let mut m = map.write().unwrap_or_else(|p| p.into_inner());
        *m.entry(key).or_insert(0) += 1;
        0
    } else {
        map.read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .unwrap_or(0)
    }
}
