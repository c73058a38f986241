//! The real MNIST files shipped in data/mnist, and the batch iterator over them.

use std::{collections::HashSet, path::PathBuf};

use batchprop_data::{Batches, Mnist, Split, find_mnist};
use rand::{SeedableRng, rngs::ChaCha8Rng};

fn mnist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

#[test]
fn mnist_loads_and_splits_as_the_book_does() {
    let mnist = Mnist::<f32>::load(mnist_dir(), Split::Book).unwrap();
    assert_eq!(
        (mnist.train.len(), mnist.validation.len(), mnist.test.len()),
        (50_000, 10_000, 10_000)
    );
    assert_eq!(mnist.train.input_size(), 784);
    assert_eq!(mnist.train.item_shape(), &[28, 28]);
    // The first training labels and the first test labels of MNIST.
    assert_eq!(&mnist.train.labels()[..8], &[5, 0, 4, 1, 9, 2, 1, 3]);
    assert_eq!(&mnist.test.labels()[..8], &[7, 2, 1, 0, 4, 1, 4, 9]);
    let (lo, hi) = mnist
        .train
        .images()
        .iter()
        .fold((1.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0));

    let full = Mnist::<f64>::load(mnist_dir(), Split::Full).unwrap();
    assert_eq!(
        (full.train.len(), full.validation.len(), full.test.len()),
        (60_000, 0, 10_000)
    );
    // The book's validation set is the last 10,000 training images.
    assert_eq!(full.train.labels()[50_000..], *mnist.validation.labels());
}

#[test]
fn missing_files_name_what_is_needed_and_where_to_get_them() {
    let empty = tempfile::TempDir::new().unwrap();
    let err = find_mnist(&[empty.path().to_path_buf()]).unwrap_err().to_string();
    for needed in [
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "--data",
        "MNIST_DIR",
    ] {
        assert!(err.contains(needed), "{err}");
    }
    assert!(err.contains(&empty.path().display().to_string()));
    assert!(Mnist::<f32>::load(empty.path(), Split::Book).is_err());
}

#[test]
fn every_example_once_per_epoch_in_a_seeded_order() {
    let mnist = Mnist::<f32>::load(mnist_dir(), Split::Book).unwrap();
    let data = &mnist.validation; // 10,000 examples
    let mut batches = Batches::new(data, 32);
    assert_eq!(batches.len(), 313); // 312 full batches and one of 16

    let epoch = |batches: &mut Batches<f32>, seed: u64| -> Vec<Vec<u8>> {
        batches.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        while let Some(batch) = batches.next_batch(data) {
            let m = batch.labels.len();
            sizes.push(m);
            assert_eq!((batch.x.dim(), batch.y.dim()), ((784, m), (10, m)));
            for j in 0..m {
                // y is the one-hot of the label; x is one of the images with that label.
                let label = batch.labels[j] as usize;
                assert_eq!(batch.y.column(j).iter().position(|&v| v == 1.0), Some(label));
                assert_eq!(batch.y.column(j).sum(), 1.0);
                seen.push(batch.x.column(j).iter().map(|&v| (v * 255.0).round() as u8).collect());
            }
        }
        assert_eq!(sizes.iter().sum::<usize>(), 10_000);
        assert!(sizes[..312].iter().all(|&m| m == 32) && sizes[312] == 16);
        seen
    };
    let first = epoch(&mut batches, 1);
    let images: HashSet<Vec<u8>> = data
        .images()
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| (v * 255.0).round() as u8).collect())
        .collect();
    let seen: HashSet<Vec<u8>> = first.iter().cloned().collect();
    // (assert! rather than assert_eq!, which would print 10,000 images on failure)
    assert!(first.len() == 10_000 && seen == images, "every example, exactly once");
    assert!(epoch(&mut batches, 1) == first, "the same seed gives the same order");
    assert!(epoch(&mut batches, 2) != first, "another seed gives another order");
}
