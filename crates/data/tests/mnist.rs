//! The real MNIST files shipped in data/mnist.

use std::path::PathBuf;

use batchprop_data::{Mnist, Split};

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
fn missing_files_name_what_is_needed() {
    let empty = tempfile::TempDir::new().unwrap();
    let err = Mnist::<f32>::load(empty.path(), Split::Book).unwrap_err().to_string();
    for needed in ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        assert!(err.contains(needed), "{err}");
    }
    assert!(err.contains(&empty.path().display().to_string()), "{err}");
}
