"""Identifiability fitters written as Pyro programs, and the models they fit.

* :func:`fit_ica` — linear ICA by maximum likelihood (non-Gaussian sources).
* :func:`fit_factor_analysis` — factor analysis (identifiable only up to rotation).
* :func:`fit_lingam`, :func:`fit_equal_variance_sem`, :func:`fit_linear_sem` — linear SEMs.
* :func:`anm_direction` — bivariate additive-noise-model direction by HSIC.
* :func:`fit_interventional_crl` — linear causal representation learning from one hard
  intervention per latent (Squires et al. 2023).
* :func:`fit_ivae` — identifiable VAE (Khemakhem et al. 2020).
"""

from ..noise.families import NOISE_FAMILIES, noise_distribution
from .anm import ANMResult, anm_direction, anm_model, kernel_ridge_fit
from .crl import (
    CRLParams,
    CRLResult,
    crl_log_likelihood,
    crl_marginal_model,
    crl_model,
    fit_interventional_crl,
    shear_latent,
)
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

__all__ = [
    "ANMResult",
    "CRLParams",
    "CRLResult",
    "IVAE",
    "FactorAnalysis",
    "HSICResult",
    "ICAResult",
    "LinearSEM",
    "NOISE_FAMILIES",
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
    "noise_distribution",
    "shear_latent",
    "whiten",
]
