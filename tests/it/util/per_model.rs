//! `per_model!`: one test per model for a behaviour, in place of a
//! hand-written three-line wrapper per model whose names drift apart.

/// Makes a module named after a behaviour function with one `#[test]` per
/// listed model, named after the model: `per_model!(rst_storm: reactor,
/// threads, tokio);` gives `rst_storm::reactor`, `rst_storm::threads` and
/// `rst_storm::tokio`, each calling `rst_storm("<model>")`.
///
/// - `name = spec` passes `spec` (any expression: a `--model` spec such as
///   `"reactor --splice always"`, a thread count, a tuple) instead of the
///   name as a string.
/// - Arguments after the behaviour, `quiet(SIGTERM): ...`, are passed
///   after the spec to every test.
/// - `name = behaviour...` names the module `name`: for one behaviour
///   function run with different arguments
///   (`sigint_behaves_like_sigterm = quiet(SIGINT): ...`).
/// - Attributes before the behaviour (`#[cfg(...)]`) apply to the whole
///   module; before a model, to that model's test only.
macro_rules! per_model {
    (@test [$($attr:tt)*] $behaviour:ident ($($arg:expr),*) $model:ident) => {
        $crate::util::per_model!(
            @test [$($attr)*] $behaviour ($($arg),*) $model = stringify!($model)
        );
    };
    (@test [$($attr:tt)*] $behaviour:ident ($($arg:expr),*) $model:ident = $spec:expr) => {
        $($attr)*
        #[test]
        fn $model() {
            #[allow(unused_imports)]
            use super::*;
            super::$behaviour($spec $(, $arg)*);
        }
    };
    (
        $(#[$all:meta])* $name:ident = $behaviour:ident $args:tt :
        $($(#[$attr:meta])* $model:ident $(= $spec:expr)?),+ $(,)?
    ) => {
        $(#[$all])*
        mod $name {
            $(
                $crate::util::per_model!(
                    @test [$(#[$attr])*] $behaviour $args $model $(= $spec)?
                );
            )+
        }
    };
    ($(#[$all:meta])* $name:ident = $behaviour:ident : $($models:tt)+) => {
        $crate::util::per_model!($(#[$all])* $name = $behaviour () : $($models)+);
    };
    ($(#[$all:meta])* $behaviour:ident $args:tt : $($models:tt)+) => {
        $crate::util::per_model!($(#[$all])* $behaviour = $behaviour $args : $($models)+);
    };
    ($(#[$all:meta])* $behaviour:ident : $($models:tt)+) => {
        $crate::util::per_model!($(#[$all])* $behaviour = $behaviour () : $($models)+);
    };
}

pub(crate) use per_model;
