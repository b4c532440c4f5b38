#include "draw/colormap.h"

static double clamp01(double t)
{
        return t > 0 ? (t < 1 ? t : 1) : 0; /* NaN fails both: 0 */
}

/* Turbo's published polynomial approximation (degree 5 per channel, max
 * error below 1/255 against the table). */
void colormap_turbo(double t, double rgb[3])
{
        static const double coef[3][6] = {
                {0.13572138, 4.61539260, -42.66032258, 132.13108234,
                 -152.94239396, 59.28637943},
                {0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857,
                 2.82956604},
                {0.10667330, 12.64194608, -60.58204836, 110.36276771,
                 -89.90310912, 27.34824973},
        };
        t = clamp01(t);
        for (int c = 0; c < 3; c++) {
                double v = 0;
                for (int i = 5; i >= 0; i--)
                        v = v * t + coef[c][i];
                rgb[c] = clamp01(v);
        }
}

void colormap_blues(double t, double rgb[3])
{
        static const double low[3] = {0.97, 0.98, 1.00};
        static const double high[3] = {0.03, 0.19, 0.42};
        t = clamp01(t);
        for (int c = 0; c < 3; c++)
                rgb[c] = low[c] + (high[c] - low[c]) * t;
}
