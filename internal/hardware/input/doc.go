// Package input is what the hardware packages share to refuse bad input:
// InputError, which names the Terraform attribute, and the "did you mean"
// helpers. It has no Terraform imports.
package input
