//! `u8` images as the trainer's input: the book's scaling, and the shifted copies of
//! `expand_mnist.py` against images shifted by hand.

use batchprop_data::{Dataset, Idx, IdxData, ImageBytes};
use batchprop_train::{Examples, Images, Settings, Source, Targets, Trainer};
use ndarray::{Array2, ShapeBuilder};

/// Writes `n` images of `rows × cols` pixels (`f(i, pixel)`) and labels `i % 3` as IDX files.
fn files(dir: &tempfile::TempDir, n: usize, rows: usize, cols: usize, f: impl Fn(usize, usize) -> u8) -> ImageBytes {
    let images = Idx {
        dims: vec![n, rows, cols],
        data: IdxData::U8(
            (0..n * rows * cols)
                .map(|k| f(k / (rows * cols), k % (rows * cols)))
                .collect(),
        ),
    };
    let labels = Idx {
        dims: vec![n],
        data: IdxData::U8((0..n).map(|i| (i % 3) as u8).collect()),
    };
    let (ip, lp) = (dir.path().join("images"), dir.path().join("labels"));
    std::fs::write(&ip, images.to_bytes()).unwrap();
    std::fs::write(&lp, labels.to_bytes()).unwrap();
    ImageBytes::load_with_limit(&ip, &lp, 3, u64::MAX).unwrap()
}

#[test]
fn the_shifts_are_those_made_by_hand() {
    let dir = tempfile::TempDir::new().unwrap();
    // Two 3 × 3 images, pixels 1 … 9 and 11 … 19.
    let bytes = files(&dir, 2, 3, 3, |i, p| (10 * i + p + 1) as u8);
    let images = Images::expanded(&bytes).unwrap();
    assert_eq!(Source::<f64>::len(&images), 10);
    let Targets::Classes { labels, classes } = Source::<f64>::targets(&images) else {
        panic!()
    };
    assert_eq!((labels, classes), (&[0, 0, 0, 0, 0, 1, 1, 1, 1, 1][..], 3));
    let mut x = Array2::<f64>::zeros((9, 5));
    images.gather(&[0, 1, 2, 3, 4], x.view_mut());
    let image = |rows: [[u8; 3]; 3]| rows.iter().flatten().map(|&p| f64::from(p) / 255.0).collect::<Vec<_>>();
    let expected = [
        image([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), // as it is
        image([[0, 0, 0], [1, 2, 3], [4, 5, 6]]), // down
        image([[4, 5, 6], [7, 8, 9], [0, 0, 0]]), // up
        image([[0, 1, 2], [0, 4, 5], [0, 7, 8]]), // right
        image([[2, 3, 0], [5, 6, 0], [8, 9, 0]]), // left
    ];
    for (s, want) in expected.iter().enumerate() {
        assert_eq!(x.column(s).to_vec(), *want, "shift {s}");
    }
    // The second image's "down" copy, gathered alone.
    let mut one = Array2::<f64>::zeros((9, 1));
    images.gather(&[6], one.view_mut());
    assert_eq!(one.column(0).to_vec(), image([[0, 0, 0], [11, 12, 13], [14, 15, 16]]));
    // Images of one dimension cannot be shifted.
    let d = tempfile::TempDir::new().unwrap();
    let bytes_1d = {
        let (ip, lp) = (d.path().join("i"), d.path().join("l"));
        std::fs::write(
            &ip,
            Idx {
                dims: vec![2, 9],
                data: IdxData::U8(vec![0; 18]),
            }
            .to_bytes(),
        )
        .unwrap();
        std::fs::write(
            &lp,
            Idx {
                dims: vec![2],
                data: IdxData::U8(vec![0, 1]),
            }
            .to_bytes(),
        )
        .unwrap();
        ImageBytes::load_with_limit(&ip, &lp, 3, u64::MAX).unwrap()
    };
    assert!(
        Images::expanded(&bytes_1d)
            .unwrap_err()
            .to_string()
            .contains("2-dimensional")
    );
}

#[test]
fn unshifted_bytes_train_to_the_same_bits_as_the_float_images() {
    let dir = tempfile::TempDir::new().unwrap();
    let bytes = files(&dir, 60, 4, 4, |i, p| ((i * 37 + p * 11) % 256) as u8);
    let floats = Dataset::<f32>::load(dir.path().join("images"), dir.path().join("labels"), 3).unwrap();
    let run = |source: &dyn Source<f32>| {
        let mut trainer = Trainer::<f32>::new(Settings::book().epochs(3).batch_size(7).eta(0.5).seed(2)).unwrap();
        let mut net = batchprop::Network::<f32>::builder(&[16, 5, 3])
            .build(trainer.rng())
            .unwrap();
        trainer.fit(&mut net, &source, None, &mut ()).unwrap();
        net.parameters().to_vec()
    };
    let in_place = Examples::classes(floats.x(), floats.labels(), 3).unwrap();
    assert_eq!(run(&Images::new(&bytes)), run(&in_place));
}

/// With two threads the trainer gathers a batch of 64 images of 784 pixels in two blocks of
/// columns, one per thread (and the last batch, of 44, too): the training ends with the bits
/// of one thread's, from bytes and from floats alike.
#[test]
fn a_gather_split_across_two_threads_trains_to_one_thread_s_bits() {
    let dir = tempfile::TempDir::new().unwrap();
    let bytes = files(&dir, 300, 28, 28, |i, p| ((i * 131 + p * 7) % 256) as u8);
    let floats = Dataset::<f32>::load(dir.path().join("images"), dir.path().join("labels"), 3).unwrap();
    let in_place = Examples::classes(floats.x(), floats.labels(), 3).unwrap();
    let run = |source: &dyn Source<f32>, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut trainer = Trainer::<f32>::new(Settings::book().epochs(2).batch_size(64).eta(0.5).seed(4)).unwrap();
            let mut net = batchprop::Network::<f32>::builder(&[784, 8, 3])
                .build(trainer.rng())
                .unwrap();
            trainer.fit(&mut net, &source, None, &mut ()).unwrap();
            net.parameters().to_vec()
        })
    };
    let one = run(&Images::new(&bytes), 1);
    assert_eq!(run(&Images::new(&bytes), 2), one);
    assert_eq!(run(&in_place, 2), one);
    assert_eq!(run(&in_place, 1), one);
}

/// Every pixel value, in images long enough for the vectorised conversion's full vectors and
/// its tail, gathers to the bits the float loaders read (on the instruction set
/// `BATCHPROP_ISA` chooses: CI runs this file on each).
#[test]
fn every_pixel_value_gathers_to_the_loaders_bits() {
    fn check<F: batchprop::Float + batchprop_data::Float + std::fmt::Debug>(
        dir: &tempfile::TempDir,
        bytes: &ImageBytes,
    ) {
        let floats = Dataset::<F>::load(dir.path().join("images"), dir.path().join("labels"), 3).unwrap();
        let (images, want_x) = (Images::new(bytes), floats.x());
        let order = [2, 0, 1];
        let mut x = Array2::<F>::from_elem((289, 3).f(), <F as batchprop::Float>::from_f64(f64::NAN));
        images.gather(&order, x.view_mut());
        for (j, &i) in order.iter().enumerate() {
            let (got, want) = (x.column(j), want_x.column(i));
            assert!(
                got.iter()
                    .zip(want)
                    .all(|(&g, &w)| batchprop::Float::as_f64(g).to_bits() == batchprop::Float::as_f64(w).to_bits()),
                "{} image {i}",
                <F as batchprop::Float>::NAME
            );
        }
    }
    let dir = tempfile::TempDir::new().unwrap();
    let bytes = files(&dir, 3, 17, 17, |i, p| ((i * 97 + p) % 256) as u8);
    check::<f32>(&dir, &bytes);
    check::<f64>(&dir, &bytes);
}
