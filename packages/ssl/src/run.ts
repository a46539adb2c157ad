// One entry for a recipe of any modality: images through runPretrain, tables through
// runTablePretrain, text through runTextPretrain, event histories through runSequencePretrain. The CLI and library users call this.
import { runPretrain, type PretrainRun } from './pipeline.js';
import { runTablePretrain } from './modalities/tabular/run.js';
import { runTextPretrain } from './modalities/text/run.js';
import { runSequencePretrain } from './modalities/sequence/run.js';
import type { Recipe } from './recipe/schema.js';

export function pretrainFromRecipe(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  if (recipe.data.dataset === 'table') return runTablePretrain(recipe, o);
  if (recipe.data.dataset === 'text') return runTextPretrain(recipe, o);
  if (recipe.data.dataset === 'events') return runSequencePretrain(recipe, o);
  return runPretrain(recipe, o);
}
