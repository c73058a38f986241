//! Inputs on 256 levels, kept as bytes: the values they gather are the floats they came
//! from, bit for bit, on each of the gather's paths, so a run trains to the same bits; values
//! that are not levels are refused.

use batchprop::{Activation, Cost, Float, Network};
use batchprop_train::{Examples, Leveled, Levels, Settings, Source, Trainer};
use ndarray::Array2;

/// `n` examples of `d` values, value `k` the level `(7k + 3) mod 256` through `value`
/// (row-major, one example per row); one in five 0, as pixels often are.
fn rows<F: Float>(n: usize, d: usize, value: impl Fn(u8) -> F) -> Array2<F> {
    Array2::from_shape_fn((n, d), |(i, j)| {
        let k = i * d + j;
        value(if k.is_multiple_of(5) {
            0
        } else {
            ((7 * k + 3) % 256) as u8
        })
    })
}

/// Encodes `rows`, checks the gather against the floats bit for bit, and trains a small
/// network on both forms: the same parameters, bit for bit.
fn same_as_the_floats<F: Float>(rows: &Array2<F>) {
    let mut levels = Levels::new();
    let mut codes = Array2::<u8>::zeros(rows.dim());
    assert!(levels.encode(rows.as_slice().unwrap(), codes.as_slice_mut().unwrap()));
    let labels: Vec<u32> = (0..rows.nrows() as u32).map(|i| i % 3).collect();
    let leveled = Leveled::classes(codes.view(), &levels, &labels, 3).unwrap();
    let floats = Examples::classes(rows.t(), &labels, 3).unwrap();

    let picks = [5, 0, rows.nrows() - 1, 17, 5];
    let mut a = Array2::<F>::zeros((rows.ncols(), picks.len()));
    let mut b = a.clone();
    leveled.gather(&picks, a.view_mut());
    floats.gather(&picks, b.view_mut());
    let bits = |x: &Array2<F>| x.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
    // Gathered into a row-major batch (columns not contiguous): the same.
    let mut c = Array2::<F>::zeros((picks.len(), rows.ncols()));
    leveled.gather(&picks, c.view_mut().reversed_axes());
    assert_eq!(bits(&c.t().to_owned()), bits(&b));

    let settings = Settings::book().epochs(2).batch_size(7).eta(0.5).seed(3);
    let net = Network::<F>::builder(&[rows.ncols(), 6, 3])
        .output(Activation::Softmax)
        .cost(Cost::LogLikelihood)
        .build(&mut <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5))
        .unwrap();
    let train = |source: &dyn Source<F>| {
        let mut n = net.clone();
        Trainer::new(settings.clone())
            .unwrap()
            .fit(&mut n, &source, None, &mut ())
            .unwrap();
        n.parameters().iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(train(&leveled), train(&floats));
}

#[test]
fn levels_gather_the_values_they_came_from() {
    // Pixels as the loaders scale them (the gather's vector path, f32 and f64) ...
    same_as_the_floats(&rows(60, 49, |p| f64::from(p) * (1.0 / 255.0)));
    same_as_the_floats(&rows(60, 49, |p| f32::from(p) * (1.0 / 255.0) as f32));
    same_as_the_floats(&rows(60, 49, |p| (f64::from(p) * (1.0 / 255.0)) as f32));
    // ... f32 pixels in an f64 network (widened: the second vector path) ...
    same_as_the_floats(&rows(60, 49, |p| f64::from((f64::from(p) * (1.0 / 255.0)) as f32)));
    // ... pixels divided rather than multiplied, and values off 1/255's grid but one per
    // level (the table).
    same_as_the_floats(&rows(60, 49, |p| f64::from(p) / 255.0));
    same_as_the_floats(&rows(60, 49, |p| f64::from(p) / 255.0 + 1e-4));
    // Binary inputs.
    same_as_the_floats(&rows(60, 49, |p| f64::from(p & 1)));
}

#[test]
fn values_that_are_not_levels_are_refused() {
    let refused = |values: &[f64]| {
        let mut codes = vec![0; values.len()];
        !Levels::new().encode(values, &mut codes)
    };
    assert!(!refused(&[0.0, 1.0, 0.5, 0.0, 0.5, 1.0 / 255.0]));
    for bad in [
        vec![f64::NAN],
        vec![-0.1],
        vec![1.01],
        vec![f64::INFINITY],
        vec![0.0, -0.0],                                   // two values for level 0
        vec![0.5, 0.5 + 1e-9],                             // two values for level 128
        vec![0.3, 0.2, 0.3 + 1e-12],                       // and not next to each other
        (0..=255).map(|p| f64::from(p) / 256.0).collect(), // 128/256 and 129/256 share 128
    ] {
        assert!(refused(&bad), "{bad:?}");
    }
    // Codes that are no level, and labels that do not fit, are errors.
    let mut levels = Levels::new();
    let mut codes = Array2::<u8>::zeros((2, 2));
    assert!(levels.encode(&[0.0, 1.0, 1.0, 0.0], codes.as_slice_mut().unwrap()));
    codes[[1, 1]] = 7;
    let err = Leveled::classes(codes.view(), &levels, &[0, 1], 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("code 7 is not one of the levels"), "{err}");
    codes[[1, 1]] = 0;
    let err = Leveled::classes(codes.view(), &levels, &[0, 1, 1], 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 columns (examples) but 3 labels"), "{err}");
    let err = Leveled::classes(codes.t(), &levels, &[0, 1], 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row-major"), "{err}");
}
