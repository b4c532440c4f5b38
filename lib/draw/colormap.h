/* Colour scales: a value in 0..1 to an RGB colour (components 0..1).
 * Values outside are clamped; NaN draws as the scale's lowest colour. */
#ifndef ALEXNET_COLORMAP_H
#define ALEXNET_COLORMAP_H

/* Turbo (Mikhailov, Google 2019): dark blue through green and yellow to
 * dark red, perceptually smoother than "jet".  For heat maps laid over a
 * picture. */
void colormap_turbo(double t, double rgb[3]);

/* White to dark blue, lightness falling with t: for a matrix of counts,
 * where the eye should go to the large cells. */
void colormap_blues(double t, double rgb[3]);

#endif
