//! The Huffman tree of hierarchical softmax (Morin & Bengio, 2005; Mikolov
//! et al., 2013): every word is a leaf, frequent words get short codes, and
//! predicting a word is a chain of binary decisions at the inner nodes on
//! its path. Built as `CreateBinaryTree` in word2vec.c builds it — two
//! moving cursors over the counts sorted in decreasing order, no heap — so
//! codes and inner-node numbers are the C tool's.

/// Per word: the branch taken at each inner node from the root down
/// (`codes`, 0 or 1) and the inner nodes themselves (`points`, rows of the
/// output matrix, `0..vocab − 1`).
#[derive(Clone, Debug, Default)]
pub struct Huffman {
    codes: Vec<Vec<u8>>,
    points: Vec<Vec<u32>>,
}

impl Huffman {
    /// The tree of `counts`, which must be in decreasing order (the
    /// vocabulary's order). Fewer than two words give empty paths.
    pub fn new(counts: &[u64]) -> Self {
        let n = counts.len();
        if n < 2 {
            return Huffman {
                codes: vec![Vec::new(); n],
                points: vec![Vec::new(); n],
            };
        }
        let mut count: Vec<u64> = counts.to_vec();
        count.resize(2 * n - 1, u64::MAX);
        let mut parent = vec![0usize; 2 * n - 1];
        let mut binary = vec![0u8; 2 * n - 1];
        // pos1 walks the leaves from the rarest up; pos2 the new inner nodes.
        let mut pos1 = n as isize - 1;
        let mut pos2 = n;
        let pick = |count: &[u64], pos1: &mut isize, pos2: &mut usize| {
            if *pos1 >= 0 && count[*pos1 as usize] < count[*pos2] {
                *pos1 -= 1;
                (*pos1 + 1) as usize
            } else {
                *pos2 += 1;
                *pos2 - 1
            }
        };
        for a in 0..n - 1 {
            let min1 = pick(&count, &mut pos1, &mut pos2);
            let min2 = pick(&count, &mut pos1, &mut pos2);
            count[n + a] = count[min1].saturating_add(count[min2]);
            parent[min1] = n + a;
            parent[min2] = n + a;
            binary[min2] = 1;
        }
        let root = 2 * n - 2;
        let mut codes = Vec::with_capacity(n);
        let mut points = Vec::with_capacity(n);
        for leaf in 0..n {
            let (mut code, mut point) = (Vec::new(), Vec::new());
            let mut b = leaf;
            while b != root {
                code.push(binary[b]);
                b = parent[b];
                point.push((b - n) as u32);
            }
            code.reverse();
            point.reverse();
            codes.push(code);
            points.push(point);
        }
        Huffman { codes, points }
    }

    /// The branches on the path to word `w`, root first.
    pub fn code(&self, w: usize) -> &[u8] {
        &self.codes[w]
    }

    /// The inner nodes on the path to word `w`, root first.
    pub fn points(&self, w: usize) -> &[u32] {
        &self.points[w]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_c_tools_by_hand() {
        // Counts 5, 3, 2, 1 (n = 4); the second of each merged pair takes 1:
        //   node 4 (inner 0) = leaf 3 (1) + leaf 2 (2)              → leaf 2: 1
        //   node 5 (inner 1) = node 4 (3, not < leaf 1's 3, so the
        //                      new node goes first) + leaf 1 (3)   → leaf 1: 1
        //   node 6 (inner 2, root) = leaf 0 (5) + node 5 (6)        → node 5: 1
        let h = Huffman::new(&[5, 3, 2, 1]);
        assert_eq!(h.code(0), [0]);
        assert_eq!(h.points(0), [2]);
        assert_eq!(h.code(1), [1, 1]);
        assert_eq!(h.points(1), [2, 1]);
        assert_eq!(h.code(2), [1, 0, 1]);
        assert_eq!(h.points(2), [2, 1, 0]);
        assert_eq!(h.code(3), [1, 0, 0]);
        assert_eq!(h.points(3), [2, 1, 0]);
    }

    #[test]
    fn codes_are_prefix_free_and_optimal_in_length() {
        let counts = [40u64, 30, 20, 5, 3, 1, 1];
        let h = Huffman::new(&counts);
        for a in 0..counts.len() {
            for b in 0..counts.len() {
                if a != b {
                    assert!(!h.code(b).starts_with(h.code(a)), "{a} prefixes {b}");
                }
            }
        }
        // Frequent words never get longer codes than rarer ones.
        for w in 1..counts.len() {
            assert!(h.code(w - 1).len() <= h.code(w).len());
        }
        assert!(Huffman::new(&[9]).code(0).is_empty());
    }
}
