"""Identifiability fitters written as Pyro programs, and the models they fit.

* :func:`fit_ica` — linear ICA by maximum likelihood (non-Gaussian sources).
* :func:`fit_factor_analysis` — factor analysis (identifiable only up to rotation).
* :func:`fit_lingam`, :func:`fit_equal_variance_sem`, :func:`fit_linear_sem` — linear SEMs.
* :func:`anm_direction` — bivariate additive-noise-model direction by HSIC.
* :func:`fit_interventional_crl` — linear causal representation learning from one hard
  intervention per latent (Squires et al. 2023).
* :func:`fit_ivae` — identifiable VAE (Khemakhem et al. 2020).

The maximum-likelihood fitters share one L-BFGS loop, :func:`minimize_lbfgs`.
"""

from .anm import ANMResult, anm_direction, anm_model, kernel_ridge_fit
from .crl import CRLParams, crl_log_likelihood, crl_marginal_model, crl_model, shear_latent
from .crl_fit import CRLResult, fit_interventional_crl
from .factor_analysis import (
    FactorAnalysis,
    factor_analysis_log_likelihood,
    factor_analysis_model,
    fit_factor_analysis,
)
from .hsic import HSICResult, hsic_test
from .ica import ICAResult, fit_ica, ica_log_likelihood, ica_model, whiten
from .ivae import IVAE, fit_ivae
from .linear_sem import LinearSEM, fit_linear_sem
from .lingam import fit_equal_variance_sem, fit_lingam
from .optimize import minimize_lbfgs

__all__ = [
    "ANMResult",
    "CRLParams",
    "CRLResult",
    "IVAE",
    "FactorAnalysis",
    "HSICResult",
    "ICAResult",
    "LinearSEM",
    "anm_direction",
    "anm_model",
    "crl_log_likelihood",
    "crl_marginal_model",
    "crl_model",
    "factor_analysis_log_likelihood",
    "factor_analysis_model",
    "fit_equal_variance_sem",
    "fit_factor_analysis",
    "fit_ica",
    "fit_interventional_crl",
    "fit_ivae",
    "fit_linear_sem",
    "fit_lingam",
    "hsic_test",
    "ica_log_likelihood",
    "ica_model",
    "kernel_ridge_fit",
    "minimize_lbfgs",
    "shear_latent",
    "whiten",
]
