"""Where a SavePlan is carried out: the built-in CRM, or a remote one (iMIS)."""
