//! What each epoch did: one record per epoch, serialisable, and the warnings of a run.

use serde::{Deserialize, Serialize};

/// Cost and accuracy on one data set after an epoch (network2.py's monitors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// network2.py's `total_cost`: the mean cost plus the L2 term `(λ/2N) Σ ‖W‖²`, if measured.
    #[serde(default, with = "float_or_name")]
    pub cost: Option<f64>,
    /// Examples whose most active output neuron is their class (classification only), if
    /// measured.
    pub correct: Option<usize>,
    /// Examples evaluated, `N`.
    pub total: usize,
    /// Value targets only: the mean squared error over examples and outputs, in the
    /// targets' own units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    /// Value targets only: the mean absolute error, in the targets' own units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Value targets only: the coefficient of determination `1 − SS_res / SS_tot`, averaged
    /// over the outputs (scikit-learn's `r2_score`; 1 is perfect, 0 predicting the mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
}

impl Metrics {
    /// `correct / total`, if measured.
    pub fn accuracy(&self) -> Option<f64> {
        self.correct.map(|c| c as f64 / self.total as f64)
    }
}

/// One epoch of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Epoch {
    /// Counted from 0, as network.py prints it.
    pub epoch: usize,
    /// The learning rate in force during the epoch.
    pub eta: f64,
    /// Seconds spent on the epoch's steps (gathering batches included, evaluation not).
    pub train_seconds: f64,
    /// Training examples per second of `train_seconds`.
    pub examples_per_second: f64,
    /// The mean cost of the epoch's examples, each measured in its mini-batch's own forward
    /// pass, before that batch's update (no regularisation term): free, and a running
    /// measure of how training goes.
    pub running_cost: f64,
    /// The fraction of the epoch's training examples classified correctly by their
    /// mini-batch's own forward pass (before its update): free, like the running cost.
    /// Classification on the batched engine only.
    #[serde(default)]
    pub running_accuracy: Option<f64>,
    /// The training data's metrics, if monitored.
    pub training: Option<Metrics>,
    /// The evaluation data's metrics, if there is evaluation data.
    pub evaluation: Option<Metrics>,
}

/// Something worth saying about a run that does not stop it. Each kind is reported once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Warning {
    /// An output neuron has been stuck for three epochs in a row: wrong (off by more than
    /// 1/2) on at least 5 % of the training examples and saturated (σ'(z) < 0.01) on 99 % of
    /// those. Under the quadratic cost its output error carries σ'(z) ≈ 0, so it barely
    /// learns (chapter 3's learning slowdown; the book's `[784, 100, 10]` run with N(0, 1)
    /// weights hits it on about half the seeds). Watched on the batched engine's outputs.
    Saturated {
        /// The epoch after which it was reported (counted from 0).
        epoch: usize,
        /// The output neuron (class) that stopped learning.
        neuron: usize,
        /// The epoch's training examples on which its output was off by more than 1/2.
        wrong: usize,
        /// How many of those it was saturated on (σ'(z) < 0.01).
        stuck: usize,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Saturated {
                epoch,
                neuron,
                wrong,
                stuck,
            } => write!(
                f,
                "output neuron {neuron} is saturated: in epoch {epoch} it was wrong on {wrong} training \
                 examples, {stuck} of them with σ'(z) < 0.01, so under the quadratic cost it barely learns \
                 (the book's learning slowdown). The book's remedies: the cross-entropy cost, or the \
                 scaled initialisation N(0, 1/n_in)"
            ),
        }
    }
}

/// `Option<f64>` as JSON, with the non-finite values JSON has no number for written as the
/// strings `"inf"`, `"-inf"` and `"NaN"` (serde_json would write `null`, which reads back
/// as "not measured").
mod float_or_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if !x.is_finite() => s.serialize_str(&x.to_string()),
            Some(x) => s.serialize_some(x),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Finite(f64),
        Named(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Number>::deserialize(d)? {
            None => Ok(None),
            Some(Number::Finite(x)) => Ok(Some(x)),
            Some(Number::Named(s)) => match s.as_str() {
                "inf" | "-inf" | "NaN" => Ok(Some(s.parse().expect("a float's name"))),
                other => Err(D::Error::custom(format!("{other:?} is not a number"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_costs_survive_json() {
        for cost in [Some(1.5), Some(f64::INFINITY), Some(f64::NEG_INFINITY), None] {
            let m = Metrics {
                cost,
                correct: Some(3),
                total: 4,
                mse: None,
                mae: None,
                r2: None,
            };
            let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(back, m);
        }
        let nan = Metrics {
            cost: Some(f64::NAN),
            correct: None,
            total: 1,
            mse: Some(2.0),
            mae: None,
            r2: None,
        };
        let back: Metrics = serde_json::from_str(&serde_json::to_string(&nan).unwrap()).unwrap();
        assert!(back.cost.unwrap().is_nan());
        assert!(serde_json::from_str::<Metrics>(r#"{"cost": "lots", "correct": null, "total": 1}"#).is_err());
    }
}
