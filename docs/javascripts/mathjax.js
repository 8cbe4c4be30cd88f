// MathJax 3 for the \( \) and \[ \] spans that pymdownx.arithmatex (generic mode) writes for $...$ and $$...$$
// (the Material for MkDocs recipe: https://squidfunk.github.io/mkdocs-material/reference/math/)
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" }
};

// typeset every page Material shows (document$ also fires on the first load)
document$.subscribe(() => {
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
