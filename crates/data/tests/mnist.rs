//! The real MNIST files shipped in data/mnist.

use std::{io::Write, path::PathBuf};

use batchprop_data::{Dataset, Error, Idx, IdxData, ImageBytes, MNIST_FILES, Mnist, Split};
use flate2::{Compression, write::GzEncoder};
use ndarray::s;

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
    // The book's validation set is the last 10,000 training images, its training set the
    // first 50,000.
    assert_eq!(full.train.labels()[50_000..], *mnist.validation.labels());
    let as_f32 = |rows| full.train.images().slice(rows).mapv(|v| v as f32);
    assert_eq!(as_f32(s![50_000.., ..]), mnist.validation.images());
    assert_eq!(as_f32(s![..50_000, ..]), mnist.train.images());

    // Kept as bytes (for --expand), the training images are the same values before the
    // division by 255, and the validation and test sets the same floats.
    let bytes = Mnist::<f32, ImageBytes>::load_bytes_with_limit(mnist_dir(), Split::Book, 1 << 30).unwrap();
    assert_eq!(
        (bytes.train.len(), bytes.train.labels()),
        (50_000, mnist.train.labels())
    );
    assert_eq!(bytes.train.to_dataset::<f32>().images(), mnist.train.images());
    assert_eq!(bytes.validation.images(), mnist.validation.images());
    assert_eq!(bytes.validation.labels(), mnist.validation.labels());
    assert_eq!(bytes.test.images(), mnist.test.images());
    // 47 MB of bytes and 2 × 31 MB of floats, not 188 MB of training floats besides.
    let err = Mnist::<f32, ImageBytes>::load_bytes_with_limit(mnist_dir(), Split::Book, 40_000_000).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

/// `n` MNIST-shaped images (28 × 28, u8) and their labels.
fn tiny_mnist(n: usize) -> (Vec<u8>, Vec<u8>) {
    let images = Idx {
        dims: vec![n, 28, 28],
        data: IdxData::U8((0..n * 784).map(|i| (i % 251) as u8).collect()),
    };
    let labels = Idx {
        dims: vec![n],
        data: IdxData::U8((0..n).map(|i| (i % 10) as u8).collect()),
    };
    (images.to_bytes(), labels.to_bytes())
}

#[test]
fn too_few_images_for_the_books_split_say_so_and_name_the_way_out() {
    let dir = tempfile::TempDir::new().unwrap();
    let (images, labels) = tiny_mnist(100);
    for (name, bytes) in MNIST_FILES.iter().zip([&images, &labels, &images, &labels]) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let err = Mnist::<f32>::load(dir.path(), Split::Book).unwrap_err().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte: it holds 100 images") && err.contains("--full-train"),
        "{err}"
    );
    let err = Mnist::<f32, ImageBytes>::load_bytes_with_limit(dir.path(), Split::Book, 1 << 30).unwrap_err();
    assert!(err.to_string().contains("--full-train"), "{err}");
    let full = Mnist::<f32>::load(dir.path(), Split::Full).unwrap();
    assert_eq!((full.train.len(), full.test.len()), (100, 100));

    // A test set of no images is an error before anything trains, naming the file.
    let (none, no_labels) = tiny_mnist(0);
    std::fs::write(dir.path().join(MNIST_FILES[2]), &none).unwrap();
    std::fs::write(dir.path().join(MNIST_FILES[3]), &no_labels).unwrap();
    let err = Mnist::<f32>::load(dir.path(), Split::Full).unwrap_err().to_string();
    assert!(err.contains("t10k-images-idx3-ubyte: it holds no images"), "{err}");
}

#[test]
fn a_load_allocates_no_more_than_its_bound() {
    let dir = tempfile::TempDir::new().unwrap();
    let (images, labels) = tiny_mnist(100);
    let (ip, lp) = (dir.path().join("images"), dir.path().join("labels"));
    std::fs::write(&ip, &images).unwrap();
    std::fs::write(&lp, &labels).unwrap();
    // 78,400 pixels: 78,400 bytes as stored + 313,600 as f32; 100 labels: 100 + 400.
    let exact = 78_400 + 313_600 + 100 + 400;
    Dataset::<f32>::load_with_limit(&ip, &lp, 10, exact).unwrap();
    let err = Dataset::<f32>::load_with_limit(&ip, &lp, 10, exact - 1).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { needed, .. } if needed == exact),
        "{err}"
    );
    let err = Dataset::<f64>::load_with_limit(&ip, &lp, 10, 300_000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("images: loading it would allocate 705600 bytes"), "{err}");
    assert!(
        err.contains("78400 values") && err.contains("as f64") && err.contains("--max-load-gb"),
        "{err}"
    );

    // The hostile trial's case: a small gzip file whose header honestly claims 2,000,000
    // images (1.6 GB of pixels, 7.8 GB in all as f32) and that is long enough for deflate's
    // ratio to allow it. The default bound refuses it at the header, before inflating.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut header = vec![0, 0, 8, 3];
    for d in [2_000_000u32, 28, 28] {
        header.extend_from_slice(&d.to_be_bytes());
    }
    gz.write_all(&header).unwrap();
    gz.write_all(&[0; 4096]).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.resize(1_600_000, 0x5a); // filler the ratio bound counts
    let liar = dir.path().join("liar.gz");
    std::fs::write(&liar, &bytes).unwrap();
    let err = Dataset::<f32>::load(&liar, &lp, 10).unwrap_err().to_string();
    assert!(
        err.contains("loading it would allocate 7.8 GB") && err.contains("limit of 4.0 GB"),
        "{err}"
    );
}

#[test]
fn missing_files_name_what_is_needed() {
    let empty = tempfile::TempDir::new().unwrap();
    let err = Mnist::<f32>::load(empty.path(), Split::Book).unwrap_err().to_string();
    for needed in ["train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]"] {
        assert!(err.contains(needed), "{err}");
    }
    assert!(err.contains(&empty.path().display().to_string()), "{err}");

    // Two of the four: the message names the two missing, not the two present.
    let (images, labels) = tiny_mnist(10);
    std::fs::write(empty.path().join(MNIST_FILES[0]), &images).unwrap();
    std::fs::write(empty.path().join(MNIST_FILES[1]), &labels).unwrap();
    let err = Mnist::<f32>::load(empty.path(), Split::Book).unwrap_err().to_string();
    assert!(err.contains("2 of the 4 files are missing"), "{err}");
    assert!(err.contains("t10k-images") && !err.contains("train-images"), "{err}");
    let err = Mnist::<f32>::load(empty.path().join("nowhere"), Split::Book)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere is not a directory"), "{err}");
}

/// The book's split keeps the training images in the buffer they were read into (no copy of
/// 39 MB, and the huge pages the loader asked for stay), and they are the first rows.
#[test]
fn the_training_part_keeps_the_loaded_buffer() {
    let dir = tempfile::TempDir::new().unwrap();
    let (images, labels) = tiny_mnist(300);
    std::fs::write(dir.path().join("images"), &images).unwrap();
    std::fs::write(dir.path().join("labels"), &labels).unwrap();
    let all = ImageBytes::load_with_limit(dir.path().join("images"), dir.path().join("labels"), 10, 1 << 30).unwrap();
    let (before, first) = (all.pixels().as_ptr(), all.pixels().slice(s![..200, ..]).to_owned());
    let (train, rest) = all.split_at(200);
    assert_eq!(train.pixels().as_ptr(), before);
    assert_eq!(train.pixels(), first);
    assert_eq!((train.len(), rest.len()), (200, 100));
    assert_eq!(rest.pixels()[[0, 0]], ((200 * 784) % 251) as u8);
}
