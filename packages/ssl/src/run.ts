// One entry for a recipe of any modality: images through runPretrain, tables through
// runTablePretrain. The CLI and library users call this.
import { runPretrain, type PretrainRun } from './pipeline.js';
import { runTablePretrain } from './modalities/tabular/run.js';
import type { Recipe } from './recipe/schema.js';

export function pretrainFromRecipe(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  return recipe.data.dataset === 'table' ? runTablePretrain(recipe, o) : runPretrain(recipe, o);
}
