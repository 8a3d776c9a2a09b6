"""Every public name of Pyro 1.9.2's main modules resolves here (its ``__all__``, or the names a
module defines where it has none), read from Pyro 1.9.2 by running it; the few left out are
listed with the reason."""

import importlib

import pytest

PYRO_1_9_2_NAMES = {
    "pyro": [
        "__version__", "barrier", "clear_param_store", "condition", "deterministic", "do",
        "enable_validation", "factor", "get_param_store", "iarange", "irange", "log", "markov",
        "module", "param", "plate", "plate_stack", "poutine", "random_module", "render_model",
        "sample", "set_rng_seed", "settings", "subsample", "validation_enabled",
    ],
    "pyro.distributions": [
        "AVFMultivariateNormal", "AffineBeta", "AsymmetricLaplace", "Bernoulli", "Beta",
        "BetaBinomial", "Binomial", "Categorical", "Cauchy", "Chi2", "CoalescentRateLikelihood",
        "CoalescentTimes", "CoalescentTimesWithRate", "ComposeTransformModule",
        "ConditionalDistribution", "ConditionalTransform", "ConditionalTransformModule",
        "ConditionalTransformedDistribution", "ContinuousBernoulli", "Delta", "Dirichlet",
        "DirichletMultinomial", "DiscreteHMM", "Distribution", "Empirical", "ExpandedDistribution",
        "Exponential", "ExponentialFamily", "ExtendedBetaBinomial", "ExtendedBinomial",
        "FisherSnedecor", "FoldedDistribution", "Gamma", "GammaGaussianHMM", "GammaPoisson",
        "GaussianHMM", "GaussianMRF", "GaussianScaleMixture", "GeneralizedPareto", "Geometric",
        "GroupedNormalNormal", "Gumbel", "HalfCauchy", "HalfNormal", "ImproperUniform",
        "Independent", "IndependentHMM", "InverseGamma", "Kumaraswamy", "LKJ", "LKJCholesky",
        "LKJCorrCholesky", "Laplace", "LinearHMM", "LogNormal", "LogNormalNegativeBinomial",
        "Logistic", "LogisticNormal", "LowRankMultivariateNormal", "MaskedDistribution",
        "MaskedMixture", "MixtureOfDiagNormals", "MixtureOfDiagNormalsSharedCovariance",
        "MixtureSameFamily", "Multinomial", "MultivariateNormal", "MultivariateStudentT",
        "NanMaskedMultivariateNormal", "NanMaskedNormal", "NegativeBinomial", "Normal",
        "OMTMultivariateNormal", "OneHotCategorical", "OneHotCategoricalStraightThrough",
        "OneOneMatching", "OneTwoMatching", "OrderedLogistic", "Pareto", "Poisson",
        "ProjectedNormal", "Rejector", "RelaxedBernoulli", "RelaxedBernoulliStraightThrough",
        "RelaxedOneHotCategorical", "RelaxedOneHotCategoricalStraightThrough",
        "SineBivariateVonMises", "SineSkewed", "SkewLogistic", "SoftAsymmetricLaplace",
        "SoftLaplace", "SpanningTree", "Stable", "StableWithLogProb", "StudentT",
        "TorchDistribution", "TransformModule", "TransformedDistribution", "TruncatedPolyaGamma",
        "Uniform", "Unit", "VonMises", "VonMises3D", "Weibull", "Wishart",
        "ZeroInflatedDistribution", "ZeroInflatedNegativeBinomial", "ZeroInflatedPoisson",
        "constraints", "enable_validation", "is_validation_enabled", "kl", "transforms",
        "validation_enabled",
    ],
    "pyro.distributions.constraints": [
        "Constraint", "MixtureSameFamilyConstraint", "boolean", "cat", "corr_cholesky",
        "corr_cholesky_constraint", "corr_matrix", "dependent", "dependent_property",
        "greater_than", "greater_than_eq", "half_open_interval", "independent", "integer",
        "integer_interval", "interval", "is_dependent", "less_than", "lower_cholesky",
        "lower_triangular", "multinomial", "nonnegative", "nonnegative_integer", "one_hot",
        "ordered_vector", "positive", "positive_definite", "positive_integer",
        "positive_ordered_vector", "positive_semidefinite", "real", "real_vector", "simplex",
        "softplus_lower_cholesky", "softplus_positive", "sphere", "square", "stack", "symmetric",
        "unit_interval", "unit_lower_cholesky",
    ],
    "pyro.distributions.hmm": [
        "DiscreteHMM", "GammaGaussianHMM", "GaussianHMM", "GaussianMRF", "HiddenMarkovModel",
        "IndependentHMM", "LinearHMM",
    ],
    "pyro.distributions.testing.gof": [
        "InvalidTest", "auto_goodness_of_fit", "density_goodness_of_fit", "exp_goodness_of_fit",
        "get_nearest_neighbor_distances", "multinomial_goodness_of_fit", "print_histogram",
        "unif01_goodness_of_fit", "vector_density_goodness_of_fit", "volume_of_sphere",
    ],
    "pyro.distributions.transforms": [
        "AbsTransform", "AffineAutoregressive", "AffineCoupling", "AffineTransform", "BatchNorm",
        "BlockAutoregressive", "CatTransform", "CholeskyTransform", "ComposeTransform",
        "ComposeTransformModule", "ConditionalAffineAutoregressive", "ConditionalAffineCoupling",
        "ConditionalGeneralizedChannelPermute", "ConditionalHouseholder",
        "ConditionalMatrixExponential", "ConditionalNeuralAutoregressive", "ConditionalPlanar",
        "ConditionalRadial", "ConditionalSpline", "ConditionalSplineAutoregressive",
        "CorrCholeskyTransform", "CorrLCholeskyTransform", "CorrMatrixCholeskyTransform",
        "CumulativeDistributionTransform", "DiscreteCosineTransform", "ELUTransform",
        "ExpTransform", "GeneralizedChannelPermute", "HaarTransform", "Householder",
        "IndependentTransform", "LeakyReLUTransform", "LowerCholeskyAffine",
        "LowerCholeskyTransform", "MatrixExponential", "NeuralAutoregressive", "Normalize",
        "OrderedTransform", "Permute", "Planar", "Polynomial", "PositiveDefiniteTransform",
        "PositivePowerTransform", "PowerTransform", "Radial", "ReshapeTransform",
        "SigmoidTransform", "SimplexToOrderedTransform", "SoftmaxTransform",
        "SoftplusLowerCholeskyTransform", "SoftplusTransform", "Spline", "SplineAutoregressive",
        "SplineCoupling", "StackTransform", "StickBreakingTransform", "Sylvester", "TanhTransform",
        "Transform", "affine_autoregressive", "affine_coupling", "batchnorm",
        "block_autoregressive", "conditional_affine_autoregressive", "conditional_affine_coupling",
        "conditional_generalized_channel_permute", "conditional_householder",
        "conditional_matrix_exponential", "conditional_neural_autoregressive",
        "conditional_planar", "conditional_radial", "conditional_spline",
        "conditional_spline_autoregressive", "elu", "generalized_channel_permute", "householder",
        "identity_transform", "iterated", "leaky_relu", "matrix_exponential",
        "neural_autoregressive", "permute", "planar", "polynomial", "radial", "spline",
        "spline_autoregressive", "spline_coupling", "sylvester",
    ],
    "pyro.distributions.util": [
        "broadcast_shape", "copy_docs_from", "deep_to", "detach", "enable_validation", "eye_like",
        "gather", "is_identically_one", "is_identically_zero", "is_validation_enabled",
        "scalar_like", "scale_and_mask", "sum_leftmost", "sum_rightmost", "validation_enabled",
        "weakmethod",
    ],
    "pyro.generic": [
        "distributions", "handlers", "infer", "ops", "optim", "pyro", "pyro_backend",
        "register_backend",
    ],
    "pyro.infer": [
        "CSIS", "ELBO", "EmpiricalMarginal", "EnergyDistance", "HMC", "IMQSteinKernel",
        "Importance", "JitTraceEnum_ELBO", "JitTraceGraph_ELBO", "JitTraceMeanField_ELBO",
        "JitTrace_ELBO", "MCMC", "MHResampler", "NUTS", "Predictive", "RBFSteinKernel",
        "RandomWalkKernel", "RenyiELBO", "ReweightedWakeSleep", "SMCFilter", "SVGD", "SVI",
        "TraceEnum_ELBO", "TraceGraph_ELBO", "TraceMeanField_ELBO", "TracePosterior",
        "TracePredictive", "TraceTMC_ELBO", "TraceTailAdaptive_ELBO", "Trace_ELBO", "Trace_MMD",
        "WeighedPredictive", "config_enumerate", "enable_validation", "infer_discrete",
        "is_validation_enabled",
    ],
    "pyro.infer.autoguide": [
        "AutoCallable", "AutoContinuous", "AutoDelta", "AutoDiagonalNormal",
        "AutoDiscreteParallel", "AutoGaussian", "AutoGuide", "AutoGuideList",
        "AutoHierarchicalNormalMessenger", "AutoIAFNormal", "AutoLaplaceApproximation",
        "AutoLowRankMultivariateNormal", "AutoMessenger", "AutoMultivariateNormal", "AutoNormal",
        "AutoNormalMessenger", "AutoNormalizingFlow", "AutoRegressiveMessenger", "AutoStructured",
        "init_to_feasible", "init_to_generated", "init_to_mean", "init_to_median",
        "init_to_sample", "init_to_uniform", "init_to_value", "mean_field_entropy",
    ],
    "pyro.infer.autoguide.initialization": [
        "InitMessenger", "init_to_feasible", "init_to_generated", "init_to_mean", "init_to_median",
        "init_to_sample", "init_to_uniform", "init_to_value",
    ],
    "pyro.infer.discrete": [
        "infer_discrete",
    ],
    "pyro.infer.enum": [
        "config_enumerate", "iter_discrete_traces",
    ],
    "pyro.infer.importance": [
        "Importance", "psis_diagnostic", "vectorized_importance_weights",
    ],
    "pyro.infer.inspect": [
        "get_dependencies", "render_model",
    ],
    "pyro.infer.mcmc": [
        "ArrowheadMassMatrix", "BlockMassMatrix", "HMC", "MCMC", "NUTS", "RandomWalkKernel",
        "StreamingMCMC",
    ],
    "pyro.infer.mcmc.adaptation": [
        "ArrowheadMassMatrix", "BlockMassMatrix", "WarmupAdapter", "adapt_window",
    ],
    "pyro.infer.mcmc.api": [
        "MCMC", "StreamingMCMC",
    ],
    "pyro.infer.mcmc.hmc": [
        "HMC",
    ],
    "pyro.infer.mcmc.nuts": [
        "NUTS",
    ],
    "pyro.infer.mcmc.util": [
        "diagnostics", "initialize_model", "predictive", "print_summary", "select_samples",
        "summary",
    ],
    "pyro.infer.predictive": [
        "MHResampler", "Predictive", "WeighedPredictive", "WeighedPredictiveResults",
    ],
    "pyro.infer.reparam": [
        "AutoReparam", "ConjugateReparam", "DiscreteCosineReparam", "GumbelSoftmaxReparam",
        "HaarReparam", "LatentStableReparam", "LinearHMMReparam", "LocScaleReparam",
        "MinimalReparam", "NeuTraReparam", "ProjectedNormalReparam", "SplitReparam",
        "StableReparam", "StructuredReparam", "StudentTReparam", "SymmetricStableReparam",
        "TransformReparam", "UnitJacobianReparam",
    ],
    "pyro.infer.resampler": [
        "Resampler",
    ],
    "pyro.infer.util": [
        "Dice", "MultiFrameTensor", "check_fully_reparametrized", "compute_site_dice_factor",
        "enable_validation", "get_dependent_plate_dims", "get_plate_stacks",
        "is_validation_enabled", "plate_log_prob_sum", "torch_backward", "torch_exp", "torch_item",
        "torch_sum", "validation_enabled", "zero_grads",
    ],
    "pyro.nn": [
        "AutoRegressiveNN", "ConditionalAutoRegressiveNN", "ConditionalDenseNN", "DenseNN",
        "MaskedLinear", "PyroModule", "PyroModuleList", "PyroParam", "PyroSample", "pyro_method",
    ],
    "pyro.nn.module": [
        "PyroModule", "PyroModuleList", "PyroParam", "PyroSample", "clear", "pyro_method",
        "to_pyro_module_",
    ],
    "pyro.ops.arrowhead": [
        "SymmArrowhead", "TriuArrowhead", "sqrt", "triu_gram", "triu_inverse", "triu_matvecmul",
    ],
    "pyro.ops.contract": [
        "contract_tensor_tree", "contract_to_tensor", "einsum", "ubersum",
    ],
    "pyro.ops.dual_averaging": [
        "DualAveraging",
    ],
    "pyro.ops.einsum": [
        "contract", "contract_expression",
    ],
    "pyro.ops.gamma_gaussian": [
        "Gamma", "GammaGaussian", "gamma_and_mvn_to_gamma_gaussian", "gamma_gaussian_tensordot",
        "matrix_and_mvn_to_gamma_gaussian", "scale_mvn",
    ],
    "pyro.ops.gaussian": [
        "AffineNormal", "Gaussian", "gaussian_tensordot", "matrix_and_gaussian_to_gaussian",
        "matrix_and_mvn_to_gaussian", "mvn_to_gaussian", "sequential_gaussian_filter_sample",
        "sequential_gaussian_tensordot",
    ],
    "pyro.ops.indexing": [
        "Index", "Vindex", "index", "vindex",
    ],
    "pyro.ops.integrator": [
        "potential_grad", "register_exception_handler", "velocity_verlet",
    ],
    "pyro.ops.jit": [
        "CompiledFunction", "trace",
    ],
    "pyro.ops.linalg": [
        "determinant_3d", "eig_3d", "ignore_torch_deprecation_warnings", "inv3d", "rinverse",
    ],
    "pyro.ops.special": [
        "get_quad_rule", "log_I1", "log_beta", "log_binomial", "safe_log",
        "sparse_multinomial_likelihood",
    ],
    "pyro.ops.stats": [
        "autocorrelation", "autocovariance", "crps_empirical", "effective_sample_size",
        "energy_score_empirical", "fit_generalized_pareto", "gelman_rubin", "hpdi", "pi",
        "quantile", "resample", "split_gelman_rubin", "waic", "weighed_quantile",
    ],
    "pyro.ops.streaming": [
        "CountMeanStats", "CountMeanVarianceStats", "CountStats", "StackStats", "StatsOfDict",
        "StreamingStats",
    ],
    "pyro.ops.tensor_utils": [
        "as_complex", "block_diag_embed", "block_diagonal", "broadcast_tensors_without_dim",
        "cholesky_solve", "convolve", "dct", "haar_transform", "idct", "inverse_haar_transform",
        "matmul", "matvecmul", "next_fast_len", "periodic_cumsum", "periodic_features",
        "periodic_repeat", "precision_to_scale_tril", "repeated_matmul", "safe_cholesky",
        "safe_normalize", "triangular_solve",
    ],
    "pyro.ops.welford": [
        "WelfordArrowheadCovariance", "WelfordCovariance",
    ],
    "pyro.optim": [
        "ASGD", "Adadelta", "Adafactor", "Adagrad", "AdagradRMSProp", "Adam", "AdamW", "Adamax",
        "ChainedScheduler", "ClippedAdam", "ConstantLR", "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts", "CyclicLR", "DCTAdam", "ExponentialLR", "LRScheduler",
        "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "Muon", "NAdam", "OneCycleLR",
        "PolynomialLR", "PyroLRScheduler", "PyroOptim", "RAdam", "RMSprop", "ReduceLROnPlateau",
        "Rprop", "SGD", "SequentialLR", "SparseAdam", "StepLR", "_LRScheduler",
    ],
    "pyro.ops.hessian": ["hessian"],
    "pyro.ops.newton": ["newton_step", "newton_step_1d", "newton_step_2d", "newton_step_3d"],
    "pyro.ops.ssm_gp": ["MaternKernel", "five_thirds", "root_five", "root_three"],
    "pyro.optim.multi": [
        "MixedMultiOptimizer", "MultiOptimizer", "Newton", "PyroMultiOptimizer", "TorchMultiOptimizer",
    ],
    "pyro.params": [
        "module_from_param_with_module_name", "param_with_module_name", "user_param_name",
    ],
    "pyro.poutine": [
        "NonlocalExit", "Trace", "block", "broadcast", "collapse", "condition", "do",
        "enable_validation", "enum", "equalize", "escape", "get_mask", "infer_config",
        "is_validation_enabled", "lift", "markov", "mask", "queue", "reparam", "replay", "scale",
        "seed", "substitute", "trace", "uncondition", "unwrap",
    ],
    "pyro.poutine.handlers": [
        "block", "broadcast", "collapse", "condition", "do", "enum", "equalize", "escape",
        "infer_config", "lift", "markov", "mask", "queue", "reparam", "replay", "scale", "seed",
        "substitute", "trace", "uncondition",
    ],
    "pyro.poutine.runtime": [
        "InferDict", "Message", "NonlocalExit", "am_i_wrapped", "apply_stack",
        "default_process_message", "effectful", "get_mask", "get_plates",
    ],
    "pyro.poutine.util": [
        "all_escape", "discrete_escape", "enable_validation", "enum_extend",
        "is_validation_enabled", "mc_extend", "prune_subsample_sites", "site_is_factor",
        "site_is_subsample",
    ],
    "pyro.settings": [
        "context", "get", "register", "set",
    ],
    "pyro.util": [
        "ExperimentalWarning", "get_rng_state", "ignore_experimental_warning",
        "ignore_jit_warnings", "jit_iter", "optional", "set_rng_seed", "set_rng_state", "timed",
        "torch_float", "torch_isinf", "torch_isnan", "warn_if_inf", "warn_if_nan",
    ],
    # Pyro 1.9's module paths of classes that live elsewhere here (alias modules)
    "pyro.distributions.asymmetriclaplace": ["AsymmetricLaplace", "SoftAsymmetricLaplace"],
    "pyro.distributions.extended": ["ExtendedBetaBinomial", "ExtendedBinomial"],
    "pyro.distributions.inverse_gamma": ["InverseGamma"],
    "pyro.distributions.nanmasked": ["NanMaskedMultivariateNormal", "NanMaskedNormal"],
    "pyro.distributions.softlaplace": ["SoftLaplace"],
    "pyro.distributions.transforms.basic": ["ELUTransform", "LeakyReLUTransform", "TanhTransform", "elu",
                                            "leaky_relu", "tanh"],
    "pyro.distributions.transforms.softplus": ["SoftplusLowerCholeskyTransform", "SoftplusTransform",
                                               "softplus_inv"],
    "pyro.distributions.transforms.unit_cholesky": ["UnitLowerCholeskyTransform", "unit_lower_cholesky"],
    "pyro.distributions.transforms.utils": ["clamp_preserve_gradients"],
    "pyro.poutine.collapse_messenger": ["CollapseMessenger"],
    "pyro.poutine.enum_messenger": ["EnumMessenger"],
    "pyro.poutine.guide": ["GuideMessenger"],
    "pyro.poutine.indep_messenger": ["CondIndepStackFrame", "IndepMessenger"],
    "pyro.poutine.reentrant_messenger": ["ReentrantMessenger"],
    "pyro.poutine.reparam_messenger": ["ReparamHandler", "ReparamMessenger"],
    "pyro.poutine.subsample_messenger": ["SubsampleMessenger"],
}

# Pyro 1.9.2 names deliberately not here, and why.
LEFT_OUT = {
    ("pyro.poutine.enum_messenger", "enumerate_site"): "Pyro's helper of its EnumMessenger; ours enumerates inside pyro.infer.enum.messenger",
    ("pyro.poutine.collapse_messenger", "Funsor"): "Pyro re-exports funsor's classes there (funsor is not a dependency)",
    ("pyro.distributions.transforms.block_autoregressive", "log_matrix_product"): "a helper of Pyro's BlockAutoregressive; the flow modules' paths are not mirrored (below)",
    ("pyro.distributions.transforms.affine_autoregressive", "*"): "the flows' module paths are not mirrored: each module name is also the name of the flow's helper function (pyro.distributions.transforms.affine_autoregressive(...)), which importing a module of that name would replace; the classes and helpers resolve as pyro.distributions.transforms.<Name>",
    ("pyro.infer.discrete", "SamplePosteriorMessenger"): "internal machinery of Pyro's infer_discrete; ours samples by replaying the contraction",
    ("pyro.infer.discrete", "TraceEnumSample_ELBO"): "same",
    ("pyro.infer.enum", "get_importance_trace"): "lives in pyro.infer.util",
    ("pyro.infer.enum", "iter_discrete_escape"): "Pyro's sequential-enumeration generators; ours enumerate sequentially through poutine.queue with pyro.poutine.util.discrete_escape/enum_extend",
    ("pyro.infer.enum", "iter_discrete_extend"): "same",
    ("pyro.infer.importance", "LogWeightsMixin"): "an internal mixin",
    ("pyro.infer.mcmc.api", "AbstractMCMC"): "an internal base class",
    ("pyro.infer.mcmc.api", "logger_thread"): "Pyro's process-logging helper; our process runner reports through its pipes",
    ("pyro.infer.mcmc.util", "TraceEinsumEvaluator"): "internal to Pyro's potential; ours is pyro.infer.mcmc.potential",
    ("pyro.infer.mcmc.util", "TraceTreeEvaluator"): "same",
    ("pyro.infer.mcmc.util", "diagnostics_from_stats"): "internal to Pyro's StreamingMCMC",
    ("pyro.infer.util", "CloneMixin"): "an internal mixin",
    ("pyro.ops.contract", "naive_ubersum"): "Pyro's reference implementation for its tests",
    ("pyro.optim", "HorovodOptimizer"): "needs Horovod, not installable here; not built",
    ("pyro.util", "check_if_enumerated"): "in pyro.infer.util as warn_if_enumerated (pyro-core cannot import the trace checks' home)",
    ("pyro.util", "check_model_guide_match"): "in pyro.infer.util",
    ("pyro.util", "check_site_shape"): "in pyro.infer.util",
    ("pyro.util", "check_traceenum_requirements"): "in pyro.infer.enum.checks",
    ("pyro.util", "check_traces_match"): "not built",
    ("pyro.util", "save_visualization"): "deprecated in Pyro; use pyro.render_model",
}


# pyro.generic warns on import that it moved to pyroapi, as Pyro's does
@pytest.mark.filterwarnings("ignore:pyro.generic has moved to the pyroapi package:DeprecationWarning")
@pytest.mark.parametrize("module", sorted(PYRO_1_9_2_NAMES))
def test_pyro_public_names_resolve(module):
    mod = importlib.import_module(module)
    missing = [name for name in PYRO_1_9_2_NAMES[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def test_left_out_names_are_not_also_listed():
    for module, name in LEFT_OUT:
        assert name not in PYRO_1_9_2_NAMES.get(module, [])


def test_alias_module_paths_give_the_very_objects_of_their_homes():
    import pyro.distributions as dist
    import pyro.distributions.transforms as transforms
    from pyro.distributions.transforms.softplus import softplus_inv
    from pyro.infer.autoguide.effect import GuideMessenger
    from pyro.infer.enum.messenger import EnumMessenger
    from pyro.poutine.enum_messenger import EnumMessenger as AliasEnum
    from pyro.poutine.guide import GuideMessenger as AliasGuide
    from pyro.poutine.indep_messenger import IndepMessenger
    import pyro
    import torch

    assert AliasGuide is GuideMessenger and AliasEnum is EnumMessenger
    assert importlib.import_module("pyro.distributions.softlaplace").SoftLaplace is dist.SoftLaplace
    assert importlib.import_module("pyro.distributions.transforms.utils").clamp_preserve_gradients is \
        importlib.import_module("pyro.nn.flows.util").clamp_preserve_gradients
    y = torch.tensor([0.05, 1.0, 40.0], dtype=torch.float64)
    torch.testing.assert_close(torch.nn.functional.softplus(softplus_inv(y)), y)
    with IndepMessenger("i", 3, dim=-1):
        assert pyro.sample("x", dist.Normal(0.0, 1.0)).shape == (3,)
    assert callable(transforms.affine_autoregressive)  # the helper, not a module
